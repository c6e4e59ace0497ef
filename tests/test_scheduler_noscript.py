"""Batches run bare EVALSHAs (no SCRIPT EXISTS per round trip): they must still recover when
the server has lost its scripts (SCRIPT FLUSH here; a restart behaves the same)."""

from __future__ import annotations

from coordination.config import Settings
from coordination.enums import TaskStatus
from coordination.redis_client import CoordRedis
from coordination.scheduler import SyncTaskScheduler, TaskScheduler


def test_sync_batches_recover_after_script_flush(
    settings: Settings, redis_client: CoordRedis
) -> None:
    scheduler = SyncTaskScheduler(settings)
    scheduler.register_worker("w", 10)
    redis_client.script_flush()
    ids = scheduler.submit_tasks([{"task_name": "t", "args": [i]} for i in range(1200)])  # 3 chunks
    assert len(set(ids)) == 1200
    first = scheduler.dispatch(limit=1)[0]
    redis_client.script_flush()
    result, assigned = scheduler.complete_and_dispatch(
        first.task_id, attempt=first.attempt, limit=5
    )
    assert result.ok
    assert len(assigned) == 5  # the freed slot plus the nine still free, capped by the limit
    assert scheduler.get_task(first.task_id).status is TaskStatus.COMPLETED  # type: ignore[union-attr]
    assert scheduler.get_scheduler_stats()["pending_tasks"] == 1200 - 6


async def test_async_batches_recover_after_script_flush(
    settings: Settings, redis_client: CoordRedis
) -> None:
    scheduler = TaskScheduler(settings)
    await scheduler.initialize()
    try:
        await scheduler.register_worker("w", 2)
        redis_client.script_flush()
        ids = await scheduler.submit_tasks([{"task_name": "t"} for _ in range(700)])
        assert len(ids) == 700
        first = (await scheduler.dispatch(limit=1))[0]
        redis_client.script_flush()
        result, assigned = await scheduler.complete_and_dispatch(
            first.task_id, attempt=first.attempt
        )
        assert result.ok
        assert len(assigned) == 2
    finally:
        await scheduler.close()
