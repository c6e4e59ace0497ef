# ruff: noqa: F811  (pytest fixtures imported from tests.test_scheduler_fixtures)
"""Queue order (priority, FIFO), delayed tasks, batches, idempotency and input validation."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from coordination.config import Settings
from coordination.errors import InvalidInputError
from coordination.keys import Keys
from coordination.redis_client import CoordRedis
from coordination.scheduler import (
    PRIORITY_MAX,
    PRIORITY_MIN,
    SchedulingStrategy,
    TaskScheduler,
    TaskSpec,
    TaskStatus,
)
from tests.test_scheduler_fixtures import apoll, sched, scheduler_settings  # noqa: F401


async def drain(sched: TaskScheduler, worker: str, strategy: SchedulingStrategy) -> list[str]:
    order = []
    while (task := await sched.get_next_task(worker, strategy)) is not None:
        order.append(task.task_id)
        assert (await sched.complete_task(task.task_id)).ok
    return order


async def test_priority_order_fifo_within_priority_under_concurrent_producers(
    scheduler_settings: Callable[..., Settings],
) -> None:
    producers = [TaskScheduler(scheduler_settings()) for _ in range(4)]
    submitted: dict[str, tuple[int, int, int]] = {}  # id -> (priority, producer, n)

    async def produce(p: int, sched: TaskScheduler) -> None:
        for n in range(40):
            priority = (n * 7 + p) % 5 - 2
            task_id = await sched.submit_task("job", priority=priority, args=[p, n])
            submitted[task_id] = (priority, p, n)

    await asyncio.gather(*(produce(p, s) for p, s in enumerate(producers)))
    consumer = producers[0]
    order = await drain(consumer, "w1", SchedulingStrategy.PRIORITY)
    assert sorted(order) == sorted(submitted)
    priorities = [submitted[t][0] for t in order]
    assert priorities == sorted(priorities, reverse=True)
    # FIFO inside one priority: each producer's tasks of a priority come out in its own order
    for prio in set(priorities):
        for p in range(4):
            seq = [submitted[t][2] for t in order if submitted[t][:2] == (prio, p)]
            assert seq == sorted(seq)
    # and submit order across producers is the sequence Redis assigned
    infos = [await consumer.get_task(t) for t in order]
    for prio in set(priorities):
        seqs = [i.sequence for i in infos if i is not None and i.priority == prio]
        assert seqs == sorted(seqs)
    for s in producers:
        await s.close()


async def test_fifo_ignores_priority(sched: TaskScheduler) -> None:
    ids = [await sched.submit_task("job", priority=p) for p in (-5, 10, 0, 100, -100)]
    assert await drain(sched, "w1", SchedulingStrategy.FIFO) == ids


async def test_queues_are_separate(sched: TaskScheduler) -> None:
    a = await sched.submit_task("job", queue="a", priority=1)
    b = await sched.submit_task("job", queue="b", priority=9)
    await sched.register_worker("wa", 5, queues=["a"])
    task = await sched.get_next_task("wa")
    assert task is not None and task.task_id == a
    assert await sched.get_next_task("wa") is None
    stats = await sched.get_scheduler_stats()
    assert stats["queue_depths"] == {"a": 0, "b": 1}
    listed = await sched.list_tasks(status=TaskStatus.PENDING, queue="b")
    assert [t.task_id for t in listed] == [b]


async def test_countdown_and_eta_wait_in_the_delayed_set(sched: TaskScheduler) -> None:
    soon = await sched.submit_task("job", countdown=0.2)
    later = await sched.submit_task("job", eta=datetime.now(UTC) + timedelta(hours=1))
    assert await sched.get_next_task("w1") is None
    stats = await sched.get_scheduler_stats()
    assert stats["delayed_tasks"] == 2 and stats["pending_tasks"] == 2
    await apoll(sched.promote_delayed_tasks, timeout=10)
    task = await sched.get_next_task("w1")
    assert task is not None and task.task_id == soon
    info = await sched.get_task(later)
    assert info is not None and info.status is TaskStatus.PENDING
    assert (await sched.get_scheduler_stats())["delayed_tasks"] == 1


async def test_batch_submit_and_idempotency(sched: TaskScheduler) -> None:
    ids = await sched.submit_tasks(
        [TaskSpec(task_name="a", priority=1), {"task_name": "b", "idempotency_key": "k1"}]
    )
    assert len(ids) == 2 and len(set(ids)) == 2
    again = await sched.submit_task("b", idempotency_key="k1")
    assert again == ids[1]
    stats = await sched.get_scheduler_stats()
    assert stats["submitted"] == 2 and stats["pending_tasks"] == 2
    big = await sched.submit_tasks([{"task_name": f"t{i}"} for i in range(1200)])
    assert len(set(big)) == 1200
    assert (await sched.get_scheduler_stats())["queue_depths"]["default"] == 1202


async def test_payload_round_trips(sched: TaskScheduler) -> None:
    task_id = await sched.submit_task(
        "job",
        args=[1, "two", [3]],
        kwargs={"k": {"n": None}},
        resources={"cpu": "500m", "memory": "1Gi"},
    )
    task = await sched.get_next_task("w1")
    assert task is not None and task.task_id == task_id
    assert task.args == [1, "two", [3]] and task.kwargs == {"k": {"n": None}}
    assert task.resources == {"cpu": 500, "memory": 2**30}


BAD: list[tuple[dict[str, Any], str]] = [
    ({"task_name": ""}, "task_name"),
    ({"task_name": "x" * 257}, "task_name"),
    ({"task_name": "ok", "queue": ""}, "queue"),
    ({"task_name": "ok", "queue": "a,b"}, "queue"),
    ({"task_name": "ok", "task_type": "x" * 200}, "task_type"),
    ({"task_name": "ok", "priority": PRIORITY_MAX + 1}, "priority"),
    ({"task_name": "ok", "priority": PRIORITY_MIN - 1}, "priority"),
    ({"task_name": "ok", "priority": 1.5}, "priority"),
    ({"task_name": "ok", "timeout": 0}, "timeout"),
    ({"task_name": "ok", "timeout": -3}, "timeout"),
    ({"task_name": "ok", "timeout": math.inf}, "timeout"),
    ({"task_name": "ok", "args": [object()]}, "args"),
    ({"task_name": "ok", "kwargs": {"x": {1, 2}}}, "kwargs"),
    ({"task_name": "ok", "kwargs": {"x": math.nan}}, "kwargs"),
    ({"task_name": "ok", "args": ["x" * 2000]}, "args"),
    ({"task_name": "ok", "resources": {"cpu": "-1"}}, "resources.cpu"),
    ({"task_name": "ok", "resources": {"memory": "4Zi"}}, "resources.memory"),
    ({"task_name": "ok", "max_retries": -1}, "max_retries"),
    ({"task_name": "ok", "countdown": 1, "eta": 5.0}, "eta"),
    ({"task_name": "ok", "countdown": -1}, "countdown"),
    ({"task_name": "ok", "bogus": 1}, "bogus"),
]


@pytest.mark.parametrize(("fields", "field"), BAD)
async def test_bad_input_names_the_field_and_writes_nothing(
    scheduler_settings: Callable[..., Settings],
    keys: Keys,
    redis_client: CoordRedis,
    fields: dict[str, Any],
    field: str,
) -> None:
    sched = TaskScheduler(scheduler_settings(max_payload_bytes=1024))
    await sched.initialize()
    if field != "bogus":  # an unknown keyword is a TypeError of the single form
        with pytest.raises(InvalidInputError) as err:
            await sched.submit_task(**fields)
        assert err.value.field == field, err.value
    with pytest.raises(InvalidInputError) as batch_err:
        await sched.submit_tasks([{"task_name": "fine"}, fields])
    assert batch_err.value.field == f"tasks[1].{field}"
    assert list(redis_client.scan_iter(match=keys.pattern)) == []
    await sched.close()


async def test_bad_arguments_elsewhere(
    sched: TaskScheduler, keys: Keys, redis_client: CoordRedis
) -> None:
    cases = [
        (sched.dispatch(limit=0), "limit"),
        (sched.dispatch(strategy="fastest"), "strategy"),
        (sched.get_next_task("w1", strategy="nope"), "strategy"),
        (sched.get_next_task(""), "worker_id"),
        (sched.complete_task("", execution_time=1), "task_id"),
        (sched.complete_task("t", execution_time=-1), "execution_time"),
        (sched.complete_task("t", result=object()), "result"),
        (sched.complete_task("t", attempt=-2), "attempt"),
        (sched.fail_task("t", 42), "error"),
        (sched.list_tasks(status="bogus"), "status"),
        (sched.register_worker("w", 0), "capacity"),
        (sched.register_worker("w", 1, queues=[""]), "queues.0"),
        (sched.register_worker("w", 1, resources={"cpu": "x"}), "resources.cpu"),
        (sched.worker_heartbeat("w", load=2), "load"),
        (sched.wait_for_task("t", -1), "timeout"),
    ]
    for call, field in cases:
        with pytest.raises(InvalidInputError) as err:
            await call
        assert err.value.field == field, (field, err.value)
    assert list(redis_client.scan_iter(match=keys.pattern)) == []
