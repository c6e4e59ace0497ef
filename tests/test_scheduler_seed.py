"""The seed's 任务调度 examples, run as written (import path without ``src.``)."""

from __future__ import annotations

import pytest

from coordination.redis_client import CoordRedis
from tests.redis_server import RedisServer


@pytest.fixture
def seed_env(
    monkeypatch: pytest.MonkeyPatch,
    redis_server: RedisServer,
    namespace: str,
    redis_client: CoordRedis,
) -> None:
    """TaskScheduler() with no arguments reads the environment: point it at the test server."""
    monkeypatch.setenv("COORD_REDIS__URL", redis_server.url)
    monkeypatch.setenv("COORD_REDIS__KEY_PREFIX", namespace)


async def test_seed_task_scheduler_example(seed_env: None) -> None:
    from coordination.scheduler import SchedulingStrategy, TaskScheduler

    # 任务调度器
    scheduler = TaskScheduler()
    await scheduler.initialize()

    # 提交任务
    task_id = await scheduler.submit_task(
        task_name="data_processing",
        task_type="batch",
        priority=5,
        timeout=3600,
        resources={"cpu": 2, "memory": "4Gi"},
    )

    # 获取下一个任务
    task = await scheduler.get_next_task(
        worker_id="worker_001", strategy=SchedulingStrategy.PRIORITY
    )

    # 完成任务
    await scheduler.complete_task(task_id, execution_time=120.5)

    # 任务失败
    await scheduler.fail_task(task_id, "Resource allocation failed")

    assert task is not None and task.task_id == task_id
    info = await scheduler.get_task(task_id)
    assert info is not None and info.status.value == "completed" and info.execution_time == 120.5

    # 调度统计
    scheduler_stats = await scheduler.get_scheduler_stats()
    print(f"待处理任务: {scheduler_stats['pending_tasks']}")
    print(f"运行中任务: {scheduler_stats['running_tasks']}")
    print(f"成功率: {scheduler_stats['success_rate']:.2%}")
    assert scheduler_stats["pending_tasks"] == 0 and scheduler_stats["running_tasks"] == 0
    assert scheduler_stats["success_rate"] == 1.0
    await scheduler.close()


async def test_seed_end_to_end_fragment(seed_env: None) -> None:
    from coordination.scheduler import TaskScheduler

    scheduler = TaskScheduler()
    await scheduler.initialize()
    task_id = await scheduler.submit_task(
        task_name="data_processing", task_type="batch", priority=5
    )
    task = await scheduler.get_next_task("worker_001")
    if task:
        await scheduler.complete_task(task.task_id)
    assert task is not None and task.task_id == task_id
    assert (await scheduler.get_scheduler_stats())["completed"] == 1
    await scheduler.close()


def test_seed_scheduling_policy_example() -> None:
    from coordination.scheduler import PolicyType, SchedulingPolicy, TaskInfo, WorkerInfo

    available_tasks = [
        TaskInfo(task_id="a", task_name="a", priority=1, sequence=1),
        TaskInfo(task_id="b", task_name="b", priority=7, sequence=2),
    ]
    available_workers = [
        WorkerInfo(worker_id="worker_001", capacity=4, inflight=1),
        WorkerInfo(worker_id="worker_002", capacity=4, inflight=1),
    ]

    # 调度策略
    policy = SchedulingPolicy(PolicyType.PRIORITY)
    policy.configure({"priority_weights": {"high": 3, "medium": 2, "low": 1}})

    # 选择任务
    selected_task = policy.select_task(available_tasks, available_workers)

    # 选择工作节点
    task = selected_task
    selected_worker = policy.select_worker(task, available_workers)

    # 更新负载信息
    policy.update_worker_load("worker_001", 0.75)

    assert selected_task is not None and selected_task.task_id == "b"
    assert selected_worker is not None and selected_worker.worker_id == "worker_001"
    # with worker_001 reported busier, the tie on inflight/capacity now goes to worker_002
    again = policy.select_worker(task, available_workers)
    assert again is not None and again.worker_id == "worker_002"


async def test_seed_custom_policy_example(seed_env: None) -> None:
    from coordination.scheduler import PolicyType, SchedulingPolicy, TaskScheduler

    class CustomSchedulingPolicy(SchedulingPolicy):
        def __init__(self):  # type: ignore[no-untyped-def]
            super().__init__(PolicyType.CUSTOM)

        def select_task(self, available_tasks, available_workers, **kwargs):  # type: ignore[no-untyped-def]
            # 实现自定义选择逻辑
            return self._custom_select(available_tasks)

        def _custom_select(self, tasks):  # type: ignore[no-untyped-def]
            # 自定义选择算法
            pass

    policy = CustomSchedulingPolicy()
    assert not policy.runs_in_redis
    scheduler = TaskScheduler(policy=policy)
    await scheduler.initialize()
    await scheduler.register_worker("w1", 2)
    task_id = await scheduler.submit_task("job")
    # the example's algorithm selects nothing: nothing is bound, nothing breaks
    assert await scheduler.dispatch() == []
    assert await scheduler.get_next_task("w1") is None

    class ShortestNameFirst(CustomSchedulingPolicy):
        def _custom_select(self, tasks):  # type: ignore[no-untyped-def]
            return min(tasks, key=lambda t: len(t.task_name), default=None)

    scheduler.set_policy(ShortestNameFirst())
    long_id = await scheduler.submit_task("a-much-longer-name", priority=100)
    [first] = await scheduler.dispatch(limit=1)
    assert first.task_id == task_id  # "job" is shorter, though lower priority
    task = await scheduler.get_next_task("w1")
    assert task is not None and task.task_id == long_id and task.started_at is not None
    await scheduler.close()
