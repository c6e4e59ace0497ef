# ruff: noqa: F811  (pytest fixtures imported from tests.test_scheduler_fixtures)
"""Leases, workers, fitness, concurrency limit, retries with backoff, timeouts, waiting."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from coordination.config import Settings
from coordination.errors import NotFoundError
from coordination.keys import Keys
from coordination.redis_client import CoordRedis
from coordination.scheduler import (
    SyncTaskScheduler,
    TaskScheduler,
    TaskStatus,
    TaskWaitTimeout,
)
from tests.test_scheduler_fixtures import apoll, poll, sched, scheduler_settings, sync_sched  # noqa: F401


async def started(settings: Settings) -> TaskScheduler:
    sched = TaskScheduler(settings)
    await sched.initialize()
    return sched


async def test_lease_expiry_requeues_with_next_attempt(
    scheduler_settings: Callable[..., Settings],
) -> None:
    sched = await started(scheduler_settings(worker_ttl=0.3))
    task_id = await sched.submit_task("job")
    first = await sched.get_next_task("w1")
    assert first is not None and first.attempt == 1
    moved = await apoll(sched.requeue_expired_leases, timeout=10)
    assert moved == [task_id]
    info = await sched.get_task(task_id)
    assert info is not None and info.status is TaskStatus.PENDING and info.worker_id is None
    assert info.attempt == 1 and info.retries == 0
    again = await sched.get_next_task("w2")
    assert again is not None and again.task_id == task_id and again.attempt == 2
    assert not (await sched.complete_task(task_id, attempt=1)).ok
    assert (await sched.complete_task(task_id, attempt=2)).ok
    stats = await sched.get_scheduler_stats()
    assert stats["requeued"] == 1 and stats["completed"] == 1 and stats["running_tasks"] == 0
    assert await sched.requeue_expired_leases() == []  # idempotent
    await sched.close()


async def test_heartbeat_renews_leases(
    sched: TaskScheduler, keys: Keys, redis_client: CoordRedis
) -> None:
    await sched.register_worker("w1", 2, ttl=5)
    task_id = await sched.submit_task("job")
    await sched.get_next_task("w1")
    before = redis_client.zscore(keys.scheduler.leases(), task_id)
    await apoll(lambda: _server_ms_after(redis_client, before))  # the server clock moved on
    assert await sched.worker_heartbeat("w1", load=0.5) == 1
    after = redis_client.zscore(keys.scheduler.leases(), task_id)
    assert before is not None and after is not None and after > before
    assert await sched.renew_leases("w1") == 1
    [worker] = await sched.list_workers()
    assert worker.load == 0.5 and worker.alive


async def _server_ms_after(client: CoordRedis, value: float | None) -> bool:
    secs, micros = client.time()
    return value is not None and secs * 1000 + micros // 1000 > value - 5000 + 1


async def test_heartbeat_of_unknown_or_expired_worker_says_register(
    scheduler_settings: Callable[..., Settings],
) -> None:
    sched = await started(scheduler_settings())
    with pytest.raises(NotFoundError, match="register_worker"):
        await sched.worker_heartbeat("ghost")
    await sched.register_worker("w1", 1, ttl=0.2)

    async def expired() -> bool:
        try:
            await sched.renew_leases("w1")
        except NotFoundError:
            return True
        return False

    await apoll(expired)
    with pytest.raises(NotFoundError):
        await sched.worker_heartbeat("w1")
    await sched.register_worker("w1", 1, ttl=5)
    assert await sched.worker_heartbeat("w1") == 0
    await sched.close()


async def test_bound_but_not_started_is_requeued_after_start_timeout(
    scheduler_settings: Callable[..., Settings],
) -> None:
    sched = await started(scheduler_settings(start_timeout=0.3, worker_ttl=60))
    await sched.register_worker("w1", 2)
    lost = await sched.submit_task("lost")
    kept = await sched.submit_task("kept")
    bound = {a.task_id: a for a in await sched.dispatch()}
    assert set(bound) == {lost, kept}
    assert (await sched.start_task(kept, bound[kept].attempt)).ok
    assert await apoll(sched.requeue_expired_leases) == [lost]
    info = await sched.get_task(kept)
    assert info is not None and info.status is TaskStatus.RUNNING
    refused = await sched.start_task(lost, bound[lost].attempt)
    assert not refused.ok and refused.reason == "wrong_state"
    [rebound] = await sched.dispatch()
    assert rebound.task_id == lost and rebound.attempt == 2
    await sched.close()


async def test_deregister_requeues_and_draining_gets_nothing(sched: TaskScheduler) -> None:
    await sched.register_worker("w1", 3)
    ids = await sched.submit_tasks([{"task_name": "a"}, {"task_name": "b"}])
    assert len(await sched.dispatch()) == 2
    assert sorted(await sched.deregister_worker("w1")) == sorted(ids)
    assert await sched.list_workers() == []
    await sched.register_worker("w2", 3)
    await sched.set_worker_draining("w2")
    assert await sched.dispatch() == []
    assert await sched.get_next_task("w2") is None
    await sched.set_worker_draining("w2", False)
    assert len(await sched.dispatch()) == 2
    with pytest.raises(NotFoundError):
        await sched.set_worker_draining("ghost")


async def test_reregister_keeps_inflight(sched: TaskScheduler) -> None:
    await sched.register_worker("w1", 2, resources={"cpu": 4})
    await sched.submit_task("job", resources={"cpu": 1})
    await sched.dispatch()
    await sched.register_worker(
        "w1", 5, weight=3, queues=["default", "other"], resources={"cpu": 8}
    )
    [w] = await sched.list_workers()
    assert (w.capacity, w.inflight, w.weight, w.queues) == (5, 1, 3, ("default", "other"))
    assert w.resources == {"cpu": 8000} and w.resources_used == {"cpu": 1000}


async def test_max_concurrent_tasks_holds_cluster_wide(
    scheduler_settings: Callable[..., Settings],
) -> None:
    a = await started(scheduler_settings(max_concurrent_tasks=3))
    b = await started(scheduler_settings(max_concurrent_tasks=3))
    for w in ("w1", "w2", "w3"):
        await a.register_worker(w, 5)
    await a.submit_tasks([{"task_name": f"t{i}"} for i in range(10)])
    results = await asyncio.gather(a.dispatch(), b.dispatch(), a.get_next_task("w9"), b.dispatch())
    bound = [x for r in results[:2] + results[3:] for x in r]  # type: ignore[union-attr]
    pulled = 1 if results[2] is not None else 0
    assert len(bound) + pulled == 3
    assert (await a.get_scheduler_stats())["running_tasks"] == 3
    first = bound[0] if bound else None
    if first is not None:
        assert (await a.complete_task(first.task_id)).ok
        assert len(await b.dispatch()) == 1
    await a.close()
    await b.close()


async def test_resource_and_type_fitting(sched: TaskScheduler) -> None:
    await sched.register_worker("cpu-box", 10, resources={"cpu": 2, "memory": "1Gi"})
    await sched.register_worker("gpu-box", 10, resources={"cpu": 8, "gpu": 1}, task_types=["train"])
    huge = await sched.submit_task("huge", priority=50, resources={"cpu": 16})
    train = await sched.submit_task("t", task_type="train", resources={"gpu": 1})
    train2 = await sched.submit_task("t2", task_type="train", resources={"gpu": 1})
    small = await sched.submit_task("s", resources={"cpu": 1, "memory": "512Mi"})
    small2 = await sched.submit_task("s2", resources={"cpu": 1, "memory": "512Mi"})
    small3 = await sched.submit_task("s3", resources={"cpu": 1, "memory": "512Mi"})
    got = {a.task_id: a.worker_id for a in await sched.dispatch(limit=50, strategy="priority")}
    assert got[train] == "gpu-box" and train2 not in got  # one gpu only
    assert got[small] == "cpu-box" and got[small2] == "cpu-box"
    assert small3 not in got  # memory is used up
    assert huge not in got  # fits nowhere, and did not block the others
    workers = {w.worker_id: w for w in await sched.list_workers()}
    assert workers["cpu-box"].resources_used == {"cpu": 2000, "memory": 2**30}
    assert workers["gpu-box"].resources_used == {"gpu": 1000}
    assert (await sched.complete_task(train)).ok
    [next_one] = await sched.dispatch()
    assert next_one.task_id == train2


async def test_retries_back_off_then_dead_letter(
    scheduler_settings: Callable[..., Settings], keys: Keys, redis_client: CoordRedis
) -> None:
    sched = await started(scheduler_settings(retry_backoff_base=0.2, retry_backoff_max=0.3))
    task_id = await sched.submit_task("flaky", max_retries=2)
    delays = []
    for attempt in (1, 2):
        task = await sched.get_next_task("w1")
        assert task is not None and task.attempt == attempt
        result = await sched.fail_task(task_id, f"boom {attempt}")
        assert result.ok and result.status is TaskStatus.PENDING
        due = redis_client.zscore(keys.scheduler.delayed(), task_id)
        secs, micros = redis_client.time()
        assert due is not None
        delays.append((due - (secs * 1000 + micros // 1000)) / 1000)
        assert await sched.get_next_task("w1") is None  # not before the backoff
        await apoll(sched.promote_delayed_tasks)
    assert 0.1 < delays[0] <= 0.2 and 0.2 < delays[1] <= 0.3  # 0.2 * 2**n, capped at 0.3
    task = await sched.get_next_task("w1")
    assert task is not None and task.attempt == 3 and task.retries == 2 and task.error == "boom 2"
    final = await sched.fail_task(task_id, "boom 3")
    assert final.ok and final.status is TaskStatus.FAILED
    assert redis_client.zrange(keys.scheduler.dead_letter(), 0, -1) == [task_id]
    info = await sched.get_task(task_id)
    assert info is not None and info.error == "boom 3"
    stats = await sched.get_scheduler_stats()
    assert stats["retried"] == 2 and stats["failed"] == 1 and stats["pending_tasks"] == 0
    listed = await sched.list_tasks(status="failed")
    assert [t.task_id for t in listed] == [task_id]
    await sched.close()


async def test_overdue_task_times_out(sched: TaskScheduler) -> None:
    task_id = await sched.submit_task("slow", timeout=0.2)
    other = await sched.submit_task("fine")
    await sched.register_worker("w1", 2)
    assert (await sched.get_next_task("w1")) is not None
    assert (await sched.get_next_task("w1")) is not None
    assert await apoll(sched.timeout_overdue_tasks) == [task_id]
    info = await sched.get_task(task_id)
    assert info is not None and info.status is TaskStatus.TIMEOUT
    [w] = await sched.list_workers()
    assert w.inflight == 1
    assert (await sched.get_task(other)).status is TaskStatus.RUNNING  # type: ignore[union-attr]
    assert (await sched.get_scheduler_stats())["timeout"] == 1


async def test_wait_for_task(
    sched: TaskScheduler, scheduler_settings: Callable[..., Settings]
) -> None:
    task_id = await sched.submit_task("job")
    with pytest.raises(TaskWaitTimeout):
        await sched.wait_for_task(task_id, 0.2)
    other = await started(scheduler_settings())
    waiters = [asyncio.create_task(other.wait_for_task(task_id, 30)) for _ in range(3)]
    task = await sched.get_next_task("w1")
    assert task is not None
    t0 = time.monotonic()
    await sched.complete_task(task_id, result=[1, 2])
    done = await asyncio.gather(*waiters)
    assert all(d.status is TaskStatus.COMPLETED and d.result == [1, 2] for d in done)
    assert time.monotonic() - t0 < 2.0  # woken by the notification, not a timeout
    assert (await sched.wait_for_task(task_id, 0)).status is TaskStatus.COMPLETED
    with pytest.raises(NotFoundError):
        await sched.wait_for_task("missing", 1)
    await other.close()


def test_sync_twin_full_cycle(sync_sched: SyncTaskScheduler) -> None:
    sync_sched.register_worker("w1", 2, queues=("default",))
    ids = sync_sched.submit_tasks([{"task_name": "a", "args": [1]}, {"task_name": "b"}])
    assigned = sync_sched.dispatch(limit=10)
    assert [a.task_id for a in assigned] == ids and assigned[0].args == [1]
    for a in assigned:
        assert sync_sched.start_task(a.task_id, a.attempt).ok
    assert sync_sched.worker_heartbeat("w1") == 2
    results = sync_sched.complete_tasks(assigned)
    assert all(r.ok for r in results)
    assert sync_sched.wait_for_task(ids[0], 1).status is TaskStatus.COMPLETED
    stats = sync_sched.get_scheduler_stats()
    assert stats["completed"] == 2 and stats["live_workers"] == 1
    assert sorted(t.task_id for t in sync_sched.list_tasks(status="completed")) == sorted(ids)
    assert poll(lambda: sync_sched.promote_delayed_tasks() == 0)
