"""Review regressions: a runtime failure must not leave a record in a state it is not in."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from coordination.container import ContainerConfig, ContainerManager, ContainerRuntimeError
from coordination.enums import ContainerStatus as S
from tests.docker_support import container_settings, wait_for
from tests.redis_server import RedisServer


@pytest.fixture
async def manager(
    redis_server: RedisServer, namespace: str, tmp_path: Path
) -> AsyncIterator[ContainerManager]:
    settings = container_settings(redis_server.url, namespace, tmp_path / "logs", runtime="process")
    mgr = ContainerManager(settings)
    await mgr.initialize()
    yield mgr
    for info in await mgr.list_containers():
        await mgr.destroy_container(info.container_id, force=True)
    await mgr.close()


async def test_pause_of_an_exited_process_leaves_it_running_so_healing_sees_the_exit(
    manager: ContainerManager,
) -> None:
    config = ContainerConfig(agent_id="a1", command=["sh", "-c", "exit 3"], restart_policy="no")
    cid = await manager.create_container(config)
    await manager.start_container(cid)
    info = await manager.get_container_info(cid)
    runtime = manager.ctx.runtimes.get("process")

    async def gone() -> bool:
        return not (await asyncio.to_thread(runtime.state, info.handle)).running

    await wait_for(gone)  # exited; the health pass has not looked yet
    with pytest.raises(ContainerRuntimeError):
        await manager.pause_container(cid)
    assert await manager.get_container_status(cid) is S.RUNNING
    report = await manager.check_health()
    assert cid in report.exited
    assert await manager.get_container_status(cid) is S.ERROR
