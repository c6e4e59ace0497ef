# ruff: noqa: F811  (pytest fixtures imported from tests.test_scheduler_fixtures)
"""Review findings: Celery delivery bookkeeping, validation before writes."""

from __future__ import annotations

import json

import pytest

from coordination.errors import InvalidInputError
from coordination.keys import Keys
from coordination.redis_client import CoordRedis
from coordination.scheduler import SchedulingPolicy, TaskScheduler, TaskStatus
from coordination.scheduler.context import Context
from coordination.scheduler.io import Operation, run_async
from tests.test_scheduler_fixtures import poll, sched, scheduler_settings  # noqa: F401


async def test_celery_delivery_is_started_and_enqueued(
    sched: TaskScheduler, keys: Keys, redis_client: CoordRedis
) -> None:
    await sched.register_worker("w1", 2, delivery="celery", incarnation="inc-1")
    await sched.register_worker("w2", 2)  # delivery none: not considered
    task_id = await sched.submit_task("job", args=[1, "x"], kwargs={"k": 2}, timeout=30)
    [bound] = await sched.dispatch(delivery="celery")
    assert bound.task_id == task_id and bound.worker_id == "w1" and bound.attempt == 1
    info = await sched.get_task(task_id)
    assert info is not None and info.started_at is not None
    assert redis_client.zscore(keys.scheduler.unstarted(), task_id) is None
    assert redis_client.zscore(keys.scheduler.deadlines(), task_id) is not None
    [raw] = redis_client.lrange(keys.celery.worker_queue("w1"), 0, -1)
    message = json.loads(raw)
    assert message["headers"]["coord_attempt"] == 1
    assert message["headers"]["coord_inc"] == "inc-1"
    assert json.loads(message["body"])[:2] == [[1, "x"], {"k": 2}]
    assert await sched.is_current(task_id, 1) and not await sched.is_current(task_id, 2)
    assert (await sched.start_task(task_id, 1)).ok  # idempotent for a started binding


async def test_is_current_rejects_a_bad_attempt(sched: TaskScheduler) -> None:
    task_id = await sched.submit_task("job")
    for bad in (None, "1", -1, True):
        with pytest.raises(InvalidInputError) as err:
            await sched.is_current(task_id, bad)  # type: ignore[arg-type]
        assert err.value.field == "attempt"


async def test_complete_and_dispatch_with_python_policy_checks_limit_first(
    sched: TaskScheduler,
) -> None:
    sched.set_policy(SchedulingPolicy("priority", {"priority_weights": {"x": 2}}))
    task_id = await sched.submit_task("job")
    task = await sched.get_next_task("w1")
    assert task is not None
    with pytest.raises(InvalidInputError):
        await sched.complete_and_dispatch(task_id, attempt=task.attempt, limit=0)
    info = await sched.get_task(task_id)
    assert info is not None and info.status is TaskStatus.RUNNING  # nothing was written


def _server_ms(redis_client: CoordRedis) -> int:
    secs, micros = redis_client.time()
    return int(secs) * 1000 + int(micros) // 1000


def _requeue_purging_at_once(ctx: Context) -> Operation[list[str]]:
    ids = yield ctx.life("requeue_expired", 500, 0)  # purge age 0: dead workers go at once
    return list(ids)


async def test_purging_a_long_dead_worker_deletes_its_celery_queue(
    sched: TaskScheduler, keys: Keys, redis_client: CoordRedis
) -> None:
    await sched.register_worker("w1", 1, delivery="celery", ttl=0.05)
    task_id = await sched.submit_task("job")
    assert len(await sched.dispatch(delivery="celery")) == 1
    assert (await sched.cancel_task(task_id)).ok  # its message stays on the queue
    queue = keys.celery.worker_queue("w1")
    assert redis_client.llen(queue) == 1
    expiry = redis_client.zscore(keys.scheduler.workers(), "w1")
    assert expiry is not None
    poll(lambda: _server_ms(redis_client) > expiry)
    assert sched._client is not None and sched._scripts is not None
    await run_async(sched._client, sched._scripts, _requeue_purging_at_once(sched._ctx))
    assert redis_client.exists(keys.scheduler.worker("w1")) == 0
    assert redis_client.exists(queue) == 0
