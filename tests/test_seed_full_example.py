"""The seed's 完整的协同管理示例, run as written against a live worker.

Its container is created by the process runtime, whose default command is ``coord worker``:
the agent registers as a worker and takes tasks like any other (agents as workers).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from coordination.config import Settings
from coordination.container import ContainerManager
from coordination.enums import TaskStatus
from coordination.scheduler import SyncTaskScheduler
from tests.cluster import Cluster, wait_for

pytestmark = pytest.mark.slow

SEED_EXAMPLE = textwrap.dedent(
    """
    import asyncio
    from coordination.container import ContainerManager, ContainerConfig
    from coordination.registry import ServiceRegistry, ServiceDiscovery
    from coordination.scheduler import TaskScheduler

    async def main():
        # 初始化协同管理组件
        container_manager = ContainerManager()
        registry = ServiceRegistry()
        discovery = ServiceDiscovery(registry)
        scheduler = TaskScheduler()

        await container_manager.initialize()
        await registry.initialize()
        await scheduler.initialize()

        # 创建智能体容器
        config = ContainerConfig(
            agent_id="agent_001",
            agent_type="task_agent",
            resources={"cpu": "2", "memory": "4Gi"}
        )

        container_id = await container_manager.create_container(config)
        await container_manager.start_container(container_id)

        # 注册服务
        service_id = await registry.register_service(
            service_name="task_agent",
            service_type="agent",
            host="localhost",
            port=8080
        )

        # 提交任务
        task_id = await scheduler.submit_task(
            task_name="data_processing",
            task_type="batch",
            priority=5
        )

        # 发现服务并执行任务
        service = await discovery.discover_service("task_agent")
        if service:
            task = await scheduler.get_next_task("worker_001")
            if task:
                # 执行任务...
                await scheduler.complete_task(task.task_id)

    if __name__ == "__main__":
        asyncio.run(main())
    """
)


@pytest.fixture
def cluster(settings: Settings, tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(settings, tmp_path)
    c.extra_env.update(
        {"COORD_CONTAINER__RUNTIME": "process", "COORD_CONTAINER__LOG_DIR": str(tmp_path)}
    )
    yield c
    c.stop()

    async def destroy_all() -> None:
        manager = ContainerManager(
            settings.model_copy(
                update={
                    "container": settings.container.model_copy(
                        update={"runtime": "process", "log_dir": str(tmp_path)}
                    )
                }
            )
        )
        await manager.initialize()
        for info in await manager.list_containers():
            await manager.destroy_container(info.container_id, force=True)
        await manager.close()

    asyncio.run(destroy_all())


def test_seed_full_example_runs_and_its_agent_takes_tasks(cluster: Cluster, tmp_path: Path) -> None:
    worker = cluster.worker("w1", concurrency=1)
    script = tmp_path / "seed_example.py"
    script.write_text(SEED_EXAMPLE)
    run = subprocess.run(
        [sys.executable, str(script)], env=cluster.env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr

    scheduler = SyncTaskScheduler(cluster.settings)
    # The submitted task ended: pulled and completed by the example, or failed by a live
    # worker that has no task named data_processing (never left pending or running).
    submitted = wait_for(lambda: scheduler.list_tasks(limit=10), 10, "the example's task")
    assert [t.task_name for t in submitted] == ["data_processing"]
    final = scheduler.wait_for_task(submitted[0].task_id, timeout=30)
    assert final.status in (TaskStatus.COMPLETED, TaskStatus.FAILED)

    # Agents as workers: the container runs `coord worker` and takes tasks like any worker.
    agent = wait_for(
        lambda: next(
            (w.worker_id for w in scheduler.list_workers() if "agent_001" in w.worker_id), None
        ),
        60,
        f"the agent container's worker to register (logs in {tmp_path})",
    )
    scheduler.set_worker_draining(worker, True)
    info = scheduler.wait_for_task(
        scheduler.submit_task(task_name="tests.add", args=[20, 22]), timeout=30
    )
    assert info.status is TaskStatus.COMPLETED
    assert info.result == 42
    assert info.worker_id == agent
