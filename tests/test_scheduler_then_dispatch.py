"""Every outcome that frees a slot (complete, fail, timeout) refills it in the same round trip."""

from __future__ import annotations

from coordination.config import Settings
from coordination.enums import TaskStatus
from coordination.scheduler import SyncTaskScheduler, TaskScheduler


def test_fail_and_timeout_refill_the_slot_in_one_call(settings: Settings) -> None:
    scheduler = SyncTaskScheduler(settings)
    scheduler.register_worker("w", 1)
    first, second, third = scheduler.submit_tasks([{"task_name": "t"}] * 3)
    bound = scheduler.dispatch(limit=5)
    assert [a.task_id for a in bound] == [first]

    failed, nxt = scheduler.fail_and_dispatch(first, "boom", attempt=1, retry=False)
    assert failed.ok and failed.status is TaskStatus.FAILED
    assert [a.task_id for a in nxt] == [second]

    timed_out, nxt = scheduler.timeout_and_dispatch(second, attempt=1)
    assert timed_out.ok and timed_out.status is TaskStatus.TIMEOUT
    assert [a.task_id for a in nxt] == [third]

    stale, nxt = scheduler.fail_and_dispatch(third, "late", attempt=7)
    assert not stale.ok and stale.reason == "stale_attempt"
    assert nxt == []  # nothing was freed, so nothing more is bound
    assert scheduler.get_task(third).status is TaskStatus.RUNNING  # type: ignore[union-attr]


async def test_async_fail_with_retry_refills_the_slot(settings: Settings) -> None:
    scheduler = TaskScheduler(settings)
    await scheduler.initialize()
    try:
        await scheduler.register_worker("w", 1)
        first, second = await scheduler.submit_tasks([{"task_name": "t", "max_retries": 2}] * 2)
        assert [a.task_id for a in await scheduler.dispatch()] == [first]
        retried, nxt = await scheduler.fail_and_dispatch(first, "try again", attempt=1)
        assert retried.ok and retried.status is TaskStatus.PENDING  # back via the delayed set
        assert [a.task_id for a in nxt] == [second]
    finally:
        await scheduler.close()
