"""SchedulingPolicy: unit behaviour, and the Lua binding held to the Python reference."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coordination.config import Settings
from coordination.errors import InvalidInputError
from coordination.keys import Keys
from coordination.quantity import parse_resources
from coordination.redis_client import sync_client
from coordination.scheduler import (
    PolicyType,
    SchedulingPolicy,
    SchedulingStrategy,
    SyncTaskScheduler,
    TaskInfo,
    WorkerInfo,
)
from coordination.scheduler.scheduling_policy import reference_dispatch
from tests.redis_server import RedisServer


def task(task_id: str, priority: int = 0, seq: int = 0, **kw: Any) -> TaskInfo:
    return TaskInfo(task_id=task_id, task_name=task_id, priority=priority, sequence=seq, **kw)


def test_task_order_per_strategy() -> None:
    tasks = [task("low", 1, 1), task("high", 9, 3), task("high-old", 9, 2)]
    assert SchedulingPolicy(PolicyType.FIFO).select_task(tasks).task_id == "low"  # type: ignore[union-attr]
    for kind in ("priority", "round_robin", "least_loaded", "weighted_round_robin"):
        assert SchedulingPolicy(kind).select_task(tasks).task_id == "high-old"  # type: ignore[union-attr]
    weighted = SchedulingPolicy(PolicyType.PRIORITY, {"priority_weights": {"vip": 10}})
    vip = task("vip", 2, 9, task_type="vip")
    assert weighted.select_task([*tasks, vip]).task_id == "vip"  # type: ignore[union-attr]
    assert not weighted.runs_in_redis and SchedulingPolicy().runs_in_redis


def test_select_task_skips_tasks_no_worker_fits() -> None:
    workers = [WorkerInfo(worker_id="w", capacity=1, resources={"cpu": 1000})]
    big = task("big", 5, 1, resources={"cpu": 4000})
    small = task("small", 1, 2, resources={"cpu": 500})
    assert SchedulingPolicy().select_task([big, small], workers) is small
    assert SchedulingPolicy().select_task([big], workers) is None


def test_worker_choices() -> None:
    t = task("t")
    ws = [WorkerInfo(worker_id=i, capacity=4, weight=w) for i, w in (("a", 5), ("b", 1), ("c", 1))]
    rr = SchedulingPolicy(SchedulingStrategy.ROUND_ROBIN)
    assert [rr.select_worker(t, ws).worker_id for _ in range(4)] == ["a", "b", "c", "a"]  # type: ignore[union-attr]
    wrr = SchedulingPolicy(SchedulingStrategy.WEIGHTED_ROUND_ROBIN)
    picks = [wrr.select_worker(t, ws).worker_id for _ in range(7)]  # type: ignore[union-attr]
    assert picks == ["a", "a", "b", "a", "c", "a", "a"]  # nginx's smooth sequence for 5,1,1
    ll = SchedulingPolicy(SchedulingStrategy.LEAST_LOADED)
    busy = [
        WorkerInfo(worker_id="x", capacity=2, inflight=1),
        WorkerInfo(worker_id="y", capacity=4, inflight=1),
    ]
    assert ll.select_worker(t, busy).worker_id == "y"  # type: ignore[union-attr]
    assert ll.select_worker(task("t", queue="other"), busy) is None


def test_configure_and_load_validation() -> None:
    policy = SchedulingPolicy()
    with pytest.raises(InvalidInputError) as err:
        policy.configure({"speed": 11})
    assert err.value.field == "config.speed"
    with pytest.raises(InvalidInputError):
        policy.configure({"priority_weights": {"a": "high"}})
    with pytest.raises(InvalidInputError) as err:
        SchedulingPolicy("fastest")
    assert err.value.field == "policy_type"
    with pytest.raises(InvalidInputError):
        policy.update_worker_load("w", 1.5)


# -- property: the Lua binding computes what the Python reference computes ------------------
NAMES = ["w-a", "wB", "w_c", "W1", "w10", "w2", "é-w"]  # mixed case, digits, punctuation, UTF-8

worker_st = st.fixed_dictionaries(
    {
        "capacity": st.integers(1, 3),
        "weight": st.integers(1, 5),
        "queues": st.sampled_from([("a",), ("b",), ("a", "b")]),
        "task_types": st.sampled_from([None, ("x",), ("x", "y")]),
        "resources": st.sampled_from([None, {"cpu": 2}, {"cpu": 4, "gpu": 1}, {"cpu": 1}]),
        "load": st.sampled_from([0.0, 0.25, 0.5]),
    }
)
task_st = st.fixed_dictionaries(
    {
        "priority": st.integers(-3, 3),
        "queue": st.sampled_from(["a", "b"]),
        "task_type": st.sampled_from(["x", "y"]),
        "resources": st.sampled_from([None, {"cpu": 1}, {"cpu": 2}, {"gpu": 1}]),
    }
)


@pytest.fixture(scope="module")
def property_server(redis_server: RedisServer) -> Iterator[RedisServer]:
    yield redis_server


def _run_case(
    server: RedisServer,
    strategy: SchedulingStrategy,
    workers: list[dict[str, Any]],
    tasks: list[dict[str, Any]],
    limits: list[int],
    max_running: int,
    completions: int,
) -> None:
    prefix = "p" + uuid.uuid4().hex[:10]
    cfg = Settings.load(redis={"url": server.url, "key_prefix": prefix},
                        scheduler={"max_concurrent_tasks": max_running, "dispatch_scan_limit": 10_000})  # fmt: skip
    sched = SyncTaskScheduler(cfg)
    client = sync_client(cfg)
    try:
        names = NAMES[: len(workers)]
        model: list[WorkerInfo] = []
        for name, w in zip(names, workers, strict=True):
            sched.register_worker(name, w["capacity"], weight=w["weight"], queues=w["queues"],
                                  task_types=w["task_types"], resources=w["resources"], ttl=60)  # fmt: skip
            sched.worker_heartbeat(name, load=w["load"])
            model.append(WorkerInfo(
                worker_id=name, capacity=w["capacity"], weight=w["weight"], queues=w["queues"],
                task_types=w["task_types"] or (), load=w["load"],
                resources=parse_resources(w["resources"]) if w["resources"] else None,
            ))  # fmt: skip
        ids = sched.submit_tasks([{"task_name": f"t{i}", **t} for i, t in enumerate(tasks)])
        remaining = [
            TaskInfo(task_id=tid, task_name="t", priority=t["priority"], queue=t["queue"],
                     task_type=t["task_type"], resources=parse_resources(t["resources"]), sequence=i + 1)
            for i, (tid, t) in enumerate(zip(ids, tasks, strict=True))
        ]  # fmt: skip
        by_id = {t.task_id: t for t in remaining}
        policy = SchedulingPolicy(strategy)
        running: list[str] = []
        for limit in limits:
            got = [(a.task_id, a.worker_id) for a in sched.dispatch(limit=limit, strategy=strategy)]
            want = reference_dispatch(policy, remaining, model, limit, max_running - len(running))
            assert got == want
            bound = {tid for tid, _ in got}
            remaining = [t for t in remaining if t.task_id not in bound]
            running.extend(tid for tid, _ in got)
            for tid in running[:completions]:  # free some slots for the next round
                assert sched.complete_task(tid).ok
                worker = next(
                    w for w in model if w.worker_id == dict(got_all(sched, tid))["worker"]
                )
                worker.inflight -= 1
                for name, amount in by_id[tid].resources.items():
                    worker.resources_used[name] -= amount
            running = running[completions:]
    finally:
        sched.close()
        for key in client.scan_iter(match=Keys(prefix).pattern, count=1000):
            client.delete(key)
        client.close()


def got_all(sched: SyncTaskScheduler, task_id: str) -> list[tuple[str, str]]:
    info = sched.get_task(task_id)
    assert info is not None and info.worker_id is not None
    return [("worker", info.worker_id)]


@pytest.mark.parametrize("strategy", list(SchedulingStrategy))
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    workers=st.lists(worker_st, min_size=1, max_size=len(NAMES)),
    tasks=st.lists(task_st, min_size=0, max_size=14),
    limits=st.lists(st.integers(1, 8), min_size=1, max_size=3),
    max_running=st.integers(1, 12),
    completions=st.integers(0, 3),
)
def test_lua_binding_matches_python_reference(
    property_server: RedisServer,
    strategy: SchedulingStrategy,
    workers: list[dict[str, Any]],
    tasks: list[dict[str, Any]],
    limits: list[int],
    max_running: int,
    completions: int,
) -> None:
    _run_case(property_server, strategy, workers, tasks, limits, max_running, completions)
