"""Process runtime specifics: process groups, env/cwd plumbing, rlimits, other hosts."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import psutil
import pytest

from coordination.container import (
    AgentContainer,
    ContainerConfig,
    ContainerManager,
    ContainerRuntimeError,
    ContainerStatus,
)
from coordination.errors import InvalidInputError
from coordination.keys import Keys
from coordination.redis_client import CoordRedis
from tests.docker_support import IDLE_SCRIPT, container_settings, wait_for
from tests.redis_server import RedisServer

S = ContainerStatus

# A stand-in agent (the real one is `coord worker`): registers itself in Redis using only
# what the container gives it (env: Redis URL, prefix, identity; the working dir), then idles.
AGENT = """
import os, time, redis
r = redis.Redis.from_url(os.environ["COORD_REDIS__URL"], decode_responses=True)
assert os.environ["COORD_REDIS__KEY_PREFIX"] in os.environ["REGISTER_KEY"]
r.hset(os.environ["REGISTER_KEY"], mapping={
    "agent_id": os.environ["COORD_AGENT_ID"],
    "container_id": os.environ["COORD_CONTAINER_ID"],
    "role": os.environ["ROLE"],
    "cwd": os.getcwd(),
})
while True:
    time.sleep(1)
"""


@pytest.fixture
async def manager(
    redis_server: RedisServer, namespace: str, tmp_path: Path, redis_client: CoordRedis
) -> AsyncIterator[ContainerManager]:
    settings = container_settings(redis_server.url, namespace, tmp_path / "logs", runtime="process")
    mgr = ContainerManager(settings)
    await mgr.initialize()
    yield mgr
    for info in await mgr.list_containers():
        await mgr.destroy_container(info.container_id, force=True)
    await mgr.close()


async def test_agent_gets_env_cwd_and_registers_in_redis(
    manager: ContainerManager, redis_client: CoordRedis, keys: Keys, tmp_path: Path
) -> None:
    workdir = tmp_path / "work"
    key = keys.registry.service("worker-7")  # where the stand-in registers itself
    workdir.mkdir()
    config = ContainerConfig(
        agent_id="worker-7",
        agent_type="task_agent",
        command=[sys.executable, "-c", AGENT],
        environment={"ROLE": "batch", "REGISTER_KEY": key},
        working_dir=str(workdir),
    )
    cid = await manager.create_container(config)
    await manager.start_container(cid)

    async def registered() -> dict[str, str]:
        return redis_client.hgetall(key)  # type: ignore[return-value]

    record = await wait_for(registered)
    assert record == {
        "agent_id": "worker-7",
        "container_id": cid,
        "role": "batch",
        "cwd": str(workdir),
    }


async def test_own_process_group_and_stop_reaches_all_of_it(manager: ContainerManager) -> None:
    script = f"sleep 300 & sleep 300 & {IDLE_SCRIPT}"
    cid = await manager.create_container(
        ContainerConfig(agent_id="grp", command=["sh", "-c", script])
    )
    await manager.start_container(cid)
    inspect = await manager.get_container(cid).inspect()
    pid = inspect["pid"]
    assert inspect["pgid"] == pid != os.getpgid(0)

    async def three() -> bool:
        return len(psutil.Process(pid).children(recursive=True)) >= 2

    await wait_for(three)
    members = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    await manager.stop_container(cid, timeout=5)
    gone, alive = psutil.wait_procs(members, timeout=5)
    assert alive == [] and len(gone) == len(members)


async def test_rlimit_is_enforced(manager: ContainerManager) -> None:
    hog = "import sys\ntry:\n    b = bytearray(512 * 1024 * 1024)\nexcept MemoryError:\n    print('refused', flush=True)\n"
    config = ContainerConfig(
        agent_id="hog",
        command=[sys.executable, "-c", hog + "import time\nwhile True: time.sleep(1)"],
        resources={"memory": "256Mi"},
    )
    cid = await manager.create_container(config)
    await manager.start_container(cid)

    async def refused() -> bool:
        return "refused" in await manager.get_logs(cid)

    await wait_for(refused)
    assert (await manager.get_container(cid).inspect())["memory_limit"] == 256 * 1024 * 1024


async def test_default_command_is_the_settings_template(
    redis_server: RedisServer, namespace: str, tmp_path: Path, redis_client: CoordRedis
) -> None:
    template = [
        "sh",
        "-c",
        "echo agent={agent_id} type={agent_type} id={container_id}; " + IDLE_SCRIPT,
    ]
    settings = container_settings(
        redis_server.url, namespace, tmp_path / "logs", runtime="process", process_command=template
    )
    async with ContainerManager(settings) as mgr:
        cid = await mgr.create_container({"agent_id": "tmpl", "agent_type": "worker"})
        await mgr.start_container(cid)

        async def echoed() -> bool:
            return f"agent=tmpl type=worker id={cid}" in await mgr.get_logs(cid)

        await wait_for(echoed)
        await mgr.destroy_container(cid, force=True)


async def test_image_without_command_is_refused_before_writing(manager: ContainerManager) -> None:
    with pytest.raises(InvalidInputError) as err:
        await manager.create_container(ContainerConfig(agent_id="img", image="busybox"))
    assert err.value.field == "config.command"
    assert await manager.list_containers() == []


async def test_missing_program_fails_start_with_error_state(manager: ContainerManager) -> None:
    cid = await manager.create_container(
        ContainerConfig(agent_id="ghost", command=["/no/such/binary"])
    )
    with pytest.raises(ContainerRuntimeError, match="cannot start"):
        await manager.start_container(cid)
    info = await manager.get_container_info(cid)
    assert info.status is S.ERROR and "start failed" in (info.error or "")
    stats = await manager.get_container_stats()
    assert stats["start_failures"] == 1 and stats["success_rate"] == 0.0


async def test_a_container_of_another_host_cannot_be_controlled(
    manager: ContainerManager, redis_client: CoordRedis
) -> None:
    cid = await manager.create_container(
        ContainerConfig(agent_id="far", command=["sh", "-c", IDLE_SCRIPT])
    )
    redis_client.hset(manager.ctx.keys.containers.container(cid), "node", "host:elsewhere")
    with pytest.raises(ContainerRuntimeError, match="lives on host:elsewhere"):
        await manager.start_container(cid)
    assert await manager.get_container_status(cid) is S.CREATED
    report = await manager.check_health()
    assert report.checked == 0  # not ours to heal
    redis_client.hset(
        manager.ctx.keys.containers.container(cid), "node", manager.ctx.runtimes.get("process").node
    )


async def test_another_process_can_stop_it(manager: ContainerManager) -> None:
    """Handles are pid + start time: a fresh runtime (as in another process) controls it."""
    cid = await manager.create_container(
        ContainerConfig(agent_id="shared", command=["sh", "-c", IDLE_SCRIPT])
    )
    await manager.start_container(cid)
    other = ContainerManager(manager.settings)
    try:
        assert (await other.get_container(cid).get_resource_usage())["running"] is True
        await other.stop_container(cid, timeout=5)
    finally:
        await other.close()
    info = await manager.get_container_info(cid)
    assert info.status is S.STOPPED
    # The first runtime is still the parent: it reaped the exit code; the other saw none.
    state = manager.ctx.runtimes.get("process").state(info.handle)
    assert not state.running


async def test_agent_container_standalone_creates_on_start(
    redis_server: RedisServer, namespace: str, tmp_path: Path, redis_client: CoordRedis
) -> None:
    settings = container_settings(redis_server.url, namespace, tmp_path / "logs", runtime="process")
    container = AgentContainer(
        "solo-1",
        {"agent_id": "solo", "command": ["sh", "-c", "echo up; " + IDLE_SCRIPT]},
        settings=settings,
    )
    try:
        assert await container.start() is True
        assert await container.get_status() is S.RUNNING

        async def up() -> bool:
            return "up" in await container.get_logs(lines=5)

        await wait_for(up)
        with pytest.raises(InvalidInputError, match="lines"):
            await container.get_logs(lines=0)
        assert await container.stop() is True
        assert await container.destroy() is True
        assert await container.get_status() is S.DESTROYED
        with pytest.raises(InvalidInputError, match="does not exist"):
            await AgentContainer("nothing-here", settings=settings).start()
    finally:
        await container.close()
