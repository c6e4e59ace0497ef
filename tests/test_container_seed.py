"""The seed's 容器管理 examples, run as written (imports from ``coordination.container``).

Settings come from the environment, as a user's would: ``ContainerManager()`` takes none.
Under ``auto`` with an engine up (CI) they run on Docker; the process runtime runs them too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from coordination.container import (
    AgentContainer,
    ContainerConfig,
    ContainerManager,
    ContainerStatus,
    ResourceLimits,
    ResourceManager,
)
from coordination.redis_client import CoordRedis
from tests.docker_support import (
    IDLE_SCRIPT,
    TEST_IMAGE,
    engine_error,
    ensure_test_image,
    remove_labelled_containers,
)
from tests.redis_server import RedisServer


@pytest.fixture(params=[pytest.param("auto", marks=pytest.mark.docker), "process"])
def seed_env(
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    redis_server: RedisServer,
    namespace: str,
    tmp_path: Path,
    redis_client: CoordRedis,
) -> Iterator[str]:
    if request.param == "auto":
        reason = engine_error()
        if reason is not None:
            pytest.fail(f"Docker tests need a running engine: {reason}")
        ensure_test_image()
    for name in list(os.environ):
        if name.startswith("COORD_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("COORD_REDIS__URL", redis_server.url)
    monkeypatch.setenv("COORD_REDIS__KEY_PREFIX", namespace)
    monkeypatch.setenv("COORD_CONTAINER__RUNTIME", str(request.param))
    monkeypatch.setenv("COORD_CONTAINER__LOG_DIR", str(tmp_path))
    monkeypatch.setenv("COORD_CONTAINER__DEFAULT_IMAGE", TEST_IMAGE)
    monkeypatch.setenv("COORD_CONTAINER__PROCESS_COMMAND", json.dumps(["sh", "-c", IDLE_SCRIPT]))
    yield str(request.param)
    remove_labelled_containers(f"coordination.namespace={namespace}")


async def _cleanup(manager: ContainerManager) -> None:
    for info in await manager.list_containers():
        with contextlib.suppress(Exception):
            await manager.destroy_container(info.container_id, force=True)
    await manager.close()


async def test_container_manager_example(seed_env: str) -> None:
    # 创建容器管理器
    container_manager = ContainerManager()
    await container_manager.initialize()
    try:
        # 创建容器配置
        config = ContainerConfig(
            agent_id="agent_001",
            agent_type="task_agent",
            resources={"cpu": "2", "memory": "2Gi"},
            environment={"ENV": "production"},
        )

        # 创建并启动容器
        container_id = await container_manager.create_container(config)
        success = await container_manager.start_container(container_id)

        # 获取容器状态
        status = await container_manager.get_container_status(container_id)
        assert success is True and status == ContainerStatus.RUNNING
        expected = "docker" if seed_env == "auto" else "process"
        assert (await container_manager.get_container_info(container_id)).runtime == expected

        # 容器统计
        stats = await container_manager.get_container_stats()
        print(f"运行中容器: {stats['running_containers']}")
        print(f"总容器数: {stats['total_containers']}")
        print(f"成功率: {stats['success_rate']:.2%}")
        assert stats["running_containers"] == 1 and stats["total_containers"] == 1

        # 自动重启失败的容器 (故障恢复)
        async def restart_failed_container(container_id: str) -> None:
            await container_manager.stop_container(container_id, force=True)
            await asyncio.sleep(5)
            await container_manager.start_container(container_id)

        await restart_failed_container(container_id)
        assert await container_manager.get_container_status(container_id) == ContainerStatus.RUNNING
    finally:
        await _cleanup(container_manager)


async def test_agent_container_example(seed_env: str) -> None:
    manager = ContainerManager()
    await manager.initialize()
    try:
        config = ContainerConfig(
            agent_id="agent_002", agent_type="task_agent", resources={"cpu": "1", "memory": "1Gi"}
        )
        container_id = await manager.create_container(config)

        # 容器生命周期管理
        container = AgentContainer(container_id, config)
        await container.start()
        running = await container.get_resource_usage()
        await container.stop(force=False)
        await container.destroy()

        # 获取资源使用情况
        resources = await container.get_resource_usage()
        logs = await container.get_logs(lines=100)
        await container.close()
        assert running["running"] is True and running["memory_limit"] == 1024**3
        assert resources["running"] is False and logs == ""
        assert await manager.get_container_status(container_id) == ContainerStatus.DESTROYED
    finally:
        await _cleanup(manager)


async def test_resource_manager_example(seed_env: str) -> None:
    # 资源管理器
    resource_manager = ResourceManager()
    await resource_manager.initialize(
        {
            "cpu": 8,
            "memory": 16 * 1024 * 1024 * 1024,  # 16GB
            "gpu": 2,
        }
    )

    # 分配资源
    limits = ResourceLimits(cpu_limit=2.0, memory_limit=4 * 1024 * 1024 * 1024)
    success = await resource_manager.allocate_resources("request_001", limits)

    # 获取资源状态
    status = await resource_manager.get_resource_status()
    assert success is True
    assert status["allocated"]["cpu"] == 2000 and status["available"]["memory"] == 12 * 1024**3
    assert status["capacity"]["gpu"] == 2000
    assert await resource_manager.release_resources("request_001") is True
    await resource_manager.close()
