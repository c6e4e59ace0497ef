"""One contract for both runtimes: the same lifecycle, limits, logs, stop semantics,
self-healing and capacity rules on a real Docker engine and on local processes."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from coordination.container import (
    ContainerConfig,
    ContainerManager,
    ContainerStatus,
    RestartPolicy,
)
from coordination.errors import CapacityError, InvalidTransitionError
from coordination.redis_client import CoordRedis
from tests.docker_support import (
    IDLE_SCRIPT,
    IGNORE_TERM_SCRIPT,
    container_settings,
    engine_error,
    ensure_test_image,
    kill_behind_our_back,
    remove_labelled_containers,
    wait_for,
)
from tests.redis_server import RedisServer

S = ContainerStatus
RUNTIMES = ["process", pytest.param("docker", marks=pytest.mark.docker)]
MEMORY = 128 * 1024 * 1024
# Prints the memory limit as the container itself sees it.
SHOW_LIMIT = {
    "process": "grep 'Max address space' /proc/self/limits",
    "docker": "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max",
}


@pytest.fixture(scope="session")
def docker_image() -> str:
    reason = engine_error()
    if reason is not None:
        pytest.fail(f"Docker tests need a running engine: {reason}")
    return ensure_test_image()


@pytest.fixture(params=RUNTIMES)
def runtime_name(request: pytest.FixtureRequest) -> str:
    name = str(request.param)
    if name == "docker":
        request.getfixturevalue("docker_image")
    return name


@pytest.fixture
async def manager(
    runtime_name: str,
    redis_server: RedisServer,
    namespace: str,
    tmp_path: Path,
    redis_client: CoordRedis,
) -> AsyncIterator[ContainerManager]:
    settings = container_settings(
        redis_server.url,
        namespace,
        tmp_path / "logs",
        runtime=runtime_name,
        max_containers=6,
        resource_limits={"cpu": "4", "memory": "2Gi"},
    )
    mgr = ContainerManager(settings)
    await mgr.initialize()
    yield mgr
    for info in await mgr.list_containers():
        # Best effort; the label sweep below catches Docker leftovers.
        with contextlib.suppress(Exception):
            await mgr.destroy_container(info.container_id, force=True)
    await mgr.close()
    if runtime_name == "docker":
        remove_labelled_containers(f"coordination.namespace={namespace}")


def cfg(agent: str, script: str = IDLE_SCRIPT, **extra: object) -> ContainerConfig:
    return ContainerConfig(agent_id=agent, command=["sh", "-c", script], **extra)  # type: ignore[arg-type]


async def test_create_start_logs_env_and_status(manager: ContainerManager) -> None:
    config = cfg(
        "agent-1", f"echo hello $GREETING; {IDLE_SCRIPT}", environment={"GREETING": "world"}
    )
    cid = await manager.create_container(config)
    assert await manager.get_container_status(cid) is S.CREATED
    assert await manager.start_container(cid) is True
    assert await manager.get_container_status(cid) is S.RUNNING

    async def greeted() -> bool:
        return "hello world" in await manager.get_logs(cid, lines=10)

    await wait_for(greeted)
    info = await manager.get_container_info(cid)
    assert info.agent_id == "agent-1" and info.epoch == 1 and info.handle
    stats = await manager.get_container_stats()
    assert stats["running_containers"] == 1 and stats["total_containers"] == 1
    assert stats["success_rate"] == 1.0


async def test_memory_limit_is_applied_and_reported(
    manager: ContainerManager, runtime_name: str
) -> None:
    script = f"{SHOW_LIMIT[runtime_name]}; {IDLE_SCRIPT}"
    cid = await manager.create_container(
        cfg("lim", script, resources={"cpu": "500m", "memory": MEMORY})
    )
    await manager.start_container(cid)

    async def shown() -> bool:
        return str(MEMORY) in await manager.get_logs(cid)

    await wait_for(shown)  # the limit as read inside the container (cgroup or rlimit)
    usage = await manager.get_resource_usage(cid)
    assert usage["running"] is True
    assert usage["memory_limit"] == MEMORY
    assert 0 < usage["memory_used"] < MEMORY


async def test_graceful_stop_exits_cleanly(manager: ContainerManager) -> None:
    cid = await manager.create_container(cfg("graceful"))
    await manager.start_container(cid)
    started = time.monotonic()
    assert await manager.stop_container(cid, timeout=20) is True
    assert time.monotonic() - started < 10  # SIGTERM was enough, no waiting for the timeout
    info = await manager.get_container_info(cid)
    assert info.status is S.STOPPED and info.exit_code == 0


async def test_stop_kills_after_timeout_when_term_is_ignored(manager: ContainerManager) -> None:
    cid = await manager.create_container(cfg("stubborn", IGNORE_TERM_SCRIPT))
    await manager.start_container(cid)
    await asyncio.sleep(0.3)  # let the shell install its trap before we signal it
    started = time.monotonic()
    await manager.stop_container(cid, timeout=1)
    elapsed = time.monotonic() - started
    info = await manager.get_container_info(cid)
    assert info.status is S.STOPPED and info.exit_code == 137  # SIGKILL
    assert 0.9 <= elapsed < 8


async def test_forced_stop_kills_at_once(manager: ContainerManager) -> None:
    cid = await manager.create_container(cfg("forced", IGNORE_TERM_SCRIPT))
    await manager.start_container(cid)
    started = time.monotonic()
    await manager.stop_container(cid, force=True, timeout=30)
    assert time.monotonic() - started < 5
    assert (await manager.get_container_info(cid)).exit_code == 137


async def test_stopped_container_starts_again(manager: ContainerManager) -> None:
    cid = await manager.create_container(cfg("again"))
    await manager.start_container(cid)
    await manager.stop_container(cid)
    await manager.start_container(cid)
    info = await manager.get_container_info(cid)
    assert info.status is S.RUNNING and info.epoch == 2 and info.exit_code is None
    assert await manager.restart_container(cid) is True
    assert (await manager.get_container_info(cid)).epoch == 3


async def test_invalid_transitions_raise_and_change_nothing(manager: ContainerManager) -> None:
    cid = await manager.create_container(cfg("strict"))
    before = await manager.get_container_info(cid)
    with pytest.raises(InvalidTransitionError, match="from created to stopping"):
        await manager.stop_container(cid)
    assert await manager.get_container_info(cid) == before
    await manager.start_container(cid)
    with pytest.raises(InvalidTransitionError, match="from running to starting"):
        await manager.start_container(cid)
    with pytest.raises(InvalidTransitionError, match="from running to running"):
        await manager.resume_container(cid)
    assert (await manager.get_container_info(cid)).status is S.RUNNING


async def test_pause_and_resume(manager: ContainerManager) -> None:
    cid = await manager.create_container(cfg("pausable"))
    await manager.start_container(cid)
    await manager.pause_container(cid)
    assert await manager.get_container_status(cid) is S.PAUSED
    await manager.resume_container(cid)
    assert await manager.get_container_status(cid) is S.RUNNING
    await manager.stop_container(cid, timeout=5)
    assert (await manager.get_container_info(cid)).exit_code == 0


async def test_destroy_releases_resources_and_forgets_it(manager: ContainerManager) -> None:
    cid = await manager.create_container(cfg("doomed", resources={"cpu": "1", "memory": "256Mi"}))
    status = await manager.resource_manager.get_resource_status()
    assert status["allocated"]["cpu"] == 1000
    await manager.start_container(cid)
    assert await manager.destroy_container(cid) is True  # stops it first
    assert await manager.get_container_status(cid) is S.DESTROYED
    assert await manager.list_containers() == []
    status = await manager.resource_manager.get_resource_status()
    assert status["allocated"]["cpu"] == 0 and status["allocated"]["memory"] == 0
    assert await manager.get_logs(cid) == ""
    with pytest.raises(InvalidTransitionError):
        await manager.start_container(cid)


async def test_self_healing_restarts_a_killed_container(
    manager: ContainerManager, runtime_name: str
) -> None:
    cid = await manager.create_container(cfg("phoenix"))
    await manager.start_container(cid)
    first = await manager.get_container_info(cid)
    kill_behind_our_back(runtime_name, first.handle)

    async def healed() -> bool:
        await manager.check_health()
        info = await manager.get_container_info(cid)
        return info.status is S.RUNNING and info.restarts == 1

    await wait_for(healed)
    info = await manager.get_container_info(cid)
    assert info.epoch == first.epoch + 1 and info.restart_attempt == 1
    state = await asyncio.to_thread(manager.ctx.runtimes.get(runtime_name).state, info.handle)
    assert state.running
    stats = await manager.get_container_stats()
    assert stats["restarts"] == 1 and stats["exits"] == 1


async def test_health_loop_heals_without_being_called(
    manager: ContainerManager, runtime_name: str
) -> None:
    cid = await manager.create_container(cfg("looped"))
    await manager.start_container(cid)
    kill_behind_our_back(runtime_name, (await manager.get_container_info(cid)).handle)
    manager.start_health_loop(interval=0.3)

    async def healed() -> bool:
        return (await manager.get_container_info(cid)).restarts >= 1

    await wait_for(healed)
    await manager.stop_health_loop()
    assert await manager.get_container_status(cid) is S.RUNNING


async def test_restart_cap_ends_in_error(manager: ContainerManager) -> None:
    cid = await manager.create_container(cfg("crashy", "exit 3", max_restarts=2))
    await manager.start_container(cid)

    async def gave_up() -> bool:
        await manager.check_health()
        return await manager.get_container_status(cid) is S.ERROR

    await wait_for(gave_up)
    info = await manager.get_container_info(cid)
    assert info.restarts == 2 and "gave up after 2" in (info.error or "")
    assert info.exit_code == 3
    assert (await manager.get_container_stats())["errors"] == 1


async def test_clean_exit_is_not_restarted_on_failure_policy(manager: ContainerManager) -> None:
    cid = await manager.create_container(cfg("done", "exit 0"))
    no_cid = await manager.create_container(cfg("never", "exit 5", restart_policy=RestartPolicy.NO))
    await manager.start_container(cid)
    await manager.start_container(no_cid)

    async def settled() -> bool:
        await manager.check_health()
        return {await manager.get_container_status(c) for c in (cid, no_cid)} == {
            S.STOPPED,
            S.ERROR,
        }

    await wait_for(settled)
    assert await manager.get_container_status(cid) is S.STOPPED
    assert await manager.get_container_status(no_cid) is S.ERROR
    assert (await manager.get_container_info(cid)).restarts == 0


async def test_stop_cancels_a_pending_restart(manager: ContainerManager, runtime_name: str) -> None:
    manager.settings.container.restart_backoff_base = 30  # the restart stays pending
    cid = await manager.create_container(cfg("pending"))
    await manager.start_container(cid)
    kill_behind_our_back(runtime_name, (await manager.get_container_info(cid)).handle)

    async def scheduled() -> bool:
        await manager.check_health()
        return (await manager.get_container_info(cid)).restart_due_at is not None

    await wait_for(scheduled)
    await manager.stop_container(cid)
    info = await manager.get_container_info(cid)
    assert info.status is S.STOPPED and info.restart_due_at is None
    report = await manager.check_health()
    assert report.restarted == [] and report.next_due_in is None


async def test_capacity_refusal_and_reuse(manager: ContainerManager) -> None:
    await manager.initialize({"cpu": "1", "memory": "1Gi"})
    first = await manager.create_container(cfg("big", resources={"cpu": "1"}))
    with pytest.raises(CapacityError, match="do not fit"):
        await manager.create_container(cfg("small", resources={"cpu": "500m"}))
    with pytest.raises(CapacityError, match="exceeds the total"):
        await manager.create_container(cfg("huge", resources={"memory": "2Gi"}))
    assert [i.container_id for i in await manager.list_containers()] == [first]
    await manager.destroy_container(first)
    assert await manager.create_container(cfg("small", resources={"cpu": "500m"}))


async def test_concurrent_creates_never_exceed_max_containers(
    manager: ContainerManager, runtime_name: str
) -> None:
    other = ContainerManager(manager.settings)  # a second client, as another process would be
    try:
        results = await asyncio.gather(
            *[(manager if i % 2 else other).create_container(cfg(f"crowd-{i}")) for i in range(14)],
            return_exceptions=True,
        )
    finally:
        await other.close()
    made = [r for r in results if isinstance(r, str)]
    refused = [r for r in results if isinstance(r, CapacityError)]
    assert len(made) == 6 and len(refused) == 8, results
    assert len(await manager.list_containers()) == 6


async def test_concurrent_creates_never_exceed_capacity(manager: ContainerManager) -> None:
    await manager.initialize({"cpu": "2", "memory": "1Gi"})
    results = await asyncio.gather(
        *[manager.create_container(cfg(f"cpu-{i}", resources={"cpu": "500m"})) for i in range(6)],
        return_exceptions=True,
    )
    made = [r for r in results if isinstance(r, str)]
    assert len(made) == 4, results
    assert all(isinstance(r, CapacityError) for r in results if not isinstance(r, str))
    status = await manager.resource_manager.get_resource_status()
    assert status["allocated"]["cpu"] == 2000 and status["available"]["cpu"] == 0
