# ruff: noqa: F811  (pytest fixtures imported from tests.test_scheduler_fixtures)
"""Every allowed and refused task transition, with fencing by state and attempt."""

from __future__ import annotations

import asyncio

from coordination.keys import Keys
from coordination.redis_client import CoordRedis
from coordination.scheduler import TaskScheduler, TaskStatus
from tests.test_scheduler_fixtures import sched, scheduler_settings  # noqa: F401


async def running_task(sched: TaskScheduler, worker: str = "w1", **fields: object) -> str:
    task_id = await sched.submit_task("job", **fields)  # type: ignore[arg-type]
    task = await sched.get_next_task(worker)
    assert task is not None and task.task_id == task_id
    assert task.status is TaskStatus.RUNNING and task.attempt == 1 and task.worker_id == worker
    return task_id


async def test_refusals_on_pending_task_change_nothing(sched: TaskScheduler) -> None:
    task_id = await sched.submit_task("job")
    for result in (
        await sched.complete_task(task_id),
        await sched.start_task(task_id, 0),
        await sched.timeout_task(task_id),
        await sched.fail_task(task_id, "boom"),
    ):
        assert not result.ok and result.reason == "wrong_state"
        assert result.status is TaskStatus.PENDING
    info = await sched.get_task(task_id)
    assert info is not None and info.status is TaskStatus.PENDING and info.attempt == 0
    stats = await sched.get_scheduler_stats()
    assert stats["pending_tasks"] == 1 and stats["completed"] == stats["failed"] == 0


async def test_unknown_task_is_not_found(sched: TaskScheduler) -> None:
    for result in (
        await sched.complete_task("nope"),
        await sched.fail_task("nope", "x"),
        await sched.cancel_task("nope"),
        await sched.timeout_task("nope"),
        await sched.start_task("nope", 1),
    ):
        assert not result.ok and result.reason == "not_found" and result.status is None


async def test_complete_once_then_refused_and_counted_once(sched: TaskScheduler) -> None:
    task_id = await running_task(sched)
    first = await sched.complete_task(task_id, execution_time=2.5, result={"rows": 3})
    assert (
        first.ok and first.status is TaskStatus.COMPLETED and first.previous is TaskStatus.RUNNING
    )
    for again in (
        await sched.complete_task(task_id),
        await sched.fail_task(task_id, "late"),
        await sched.cancel_task(task_id),
        await sched.timeout_task(task_id),
    ):
        assert not again.ok and again.reason == "already_terminal"
        assert again.status is TaskStatus.COMPLETED
    info = await sched.get_task(task_id)
    assert info is not None and info.result == {"rows": 3} and info.execution_time == 2.5
    stats = await sched.get_scheduler_stats()
    assert (stats["completed"], stats["failed"], stats["cancelled"], stats["timeout"]) == (
        1,
        0,
        0,
        0,
    )
    assert stats["running_tasks"] == 0 and stats["success_rate"] == 1.0
    assert stats["average_execution_time"] == 2.5


async def test_concurrent_completions_count_once(sched: TaskScheduler) -> None:
    task_id = await running_task(sched)
    results = await asyncio.gather(*(sched.complete_task(task_id) for _ in range(20)))
    assert sum(r.ok for r in results) == 1
    assert {r.reason for r in results if not r.ok} == {"already_terminal"}
    assert (await sched.get_scheduler_stats())["completed"] == 1


async def test_start_is_fenced_by_attempt(sched: TaskScheduler) -> None:
    await sched.register_worker("w1", 2)
    task_id = await sched.submit_task("job")
    [bound] = await sched.dispatch()
    assert bound.attempt == 1
    stale = await sched.start_task(task_id, 7)
    assert not stale.ok and stale.reason == "stale_attempt"
    info = await sched.get_task(task_id)
    assert info is not None and info.started_at is None
    started = await sched.start_task(task_id, 1)
    assert started.ok and started.status is TaskStatus.RUNNING
    info = await sched.get_task(task_id)
    assert info is not None and info.started_at is not None
    await sched.complete_task(task_id, attempt=1)
    late = await sched.start_task(task_id, 1)
    assert not late.ok and late.reason == "already_terminal"


async def test_stale_completion_after_requeue_is_refused(sched: TaskScheduler) -> None:
    task_id = await running_task(sched, "old")
    assert await sched.deregister_worker("old") == [task_id]
    # requeued: PENDING again, attempt kept until the next binding
    refused = await sched.complete_task(task_id, attempt=1)
    assert not refused.ok and refused.reason == "wrong_state"
    task = await sched.get_next_task("new")
    assert task is not None and task.attempt == 2 and task.worker_id == "new"
    stale = await sched.complete_task(task_id, attempt=1)
    assert not stale.ok and stale.reason == "stale_attempt" and stale.attempt == 2
    stale_fail = await sched.fail_task(task_id, "old worker", attempt=1)
    assert not stale_fail.ok and stale_fail.reason == "stale_attempt"
    info = await sched.get_task(task_id)
    assert info is not None and info.status is TaskStatus.RUNNING and info.retries == 0
    assert (await sched.complete_task(task_id, attempt=2)).ok
    stats = await sched.get_scheduler_stats()
    assert stats["completed"] == 1 and stats["requeued"] == 1 and stats["retried"] == 0


async def test_cancel_pending_removes_it_from_the_queue(sched: TaskScheduler) -> None:
    task_id = await sched.submit_task("job", queue="q1")
    result = await sched.cancel_task(task_id)
    assert result.ok and result.status is TaskStatus.CANCELLED
    assert result.previous is TaskStatus.PENDING and result.worker_id is None
    assert await sched.get_next_task("w1") is None
    stats = await sched.get_scheduler_stats()
    assert (
        stats["pending_tasks"] == 0 and stats["cancelled"] == 1 and stats["queue_depths"]["q1"] == 0
    )
    refused = await sched.cancel_task(task_id)
    assert not refused.ok and refused.reason == "already_terminal"
    done = await sched.complete_task(task_id)
    assert not done.ok and done.reason == "already_terminal" and done.status is TaskStatus.CANCELLED


async def test_cancel_delayed_task(sched: TaskScheduler) -> None:
    task_id = await sched.submit_task("later", countdown=3600)
    assert (await sched.cancel_task(task_id)).ok
    assert (await sched.get_scheduler_stats())["delayed_tasks"] == 0


async def test_cancel_running_returns_worker_and_frees_its_slot(sched: TaskScheduler) -> None:
    await sched.register_worker("w1", 1, resources={"cpu": 2})
    task_id = await sched.submit_task("job", resources={"cpu": 2})
    other = await sched.submit_task("job2", resources={"cpu": 2})
    [bound] = await sched.dispatch()
    assert bound.task_id == task_id
    result = await sched.cancel_task(task_id)
    assert result.ok and result.worker_id == "w1" and result.previous is TaskStatus.RUNNING
    [worker] = await sched.list_workers()
    assert worker.inflight == 0 and worker.resources_used == {}
    [next_one] = await sched.dispatch()
    assert next_one.task_id == other
    stats = await sched.get_scheduler_stats()
    assert stats["cancelled"] == 1 and stats["running_tasks"] == 1


async def test_timeout_task_and_fail_without_retry(
    sched: TaskScheduler, keys: Keys, redis_client: CoordRedis
) -> None:
    timed = await running_task(sched, max_retries=3)
    result = await sched.timeout_task(timed, attempt=1)
    assert result.ok and result.status is TaskStatus.TIMEOUT
    failed = await running_task(sched, max_retries=3)
    final = await sched.fail_task(failed, ValueError("bad input"), retry=False)
    assert final.ok and final.status is TaskStatus.FAILED
    info = await sched.get_task(failed)
    assert info is not None and info.error == "ValueError: bad input"
    assert redis_client.zscore(keys.scheduler.dead_letter(), failed) is not None
    stats = await sched.get_scheduler_stats()
    assert stats["timeout"] == 1 and stats["failed"] == 1 and stats["dead_letter"] == 1
    assert stats["success_rate"] == 0.0


async def test_terminal_task_hash_expires_and_index_is_swept(
    sched: TaskScheduler, keys: Keys, redis_client: CoordRedis
) -> None:
    task_id = await running_task(sched)
    await sched.complete_task(task_id)
    ttl = redis_client.pttl(keys.scheduler.task(task_id))
    assert 0 < ttl <= sched.settings.scheduler.task_ttl * 1000
