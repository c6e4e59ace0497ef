"""Issue 5 end to end: real Celery workers, beat and Flower processes on the test Redis."""

from __future__ import annotations

import json
import socket
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from coordination.config import Settings
from coordination.enums import SchedulingStrategy, TaskStatus
from coordination.registry import SyncServiceRegistry
from coordination.scheduler import SyncTaskScheduler
from tests.cluster import Cluster, wait_for

pytestmark = pytest.mark.slow


def runs(cluster: Cluster) -> list[dict[str, object]]:
    key = "{" + cluster.settings.redis.key_prefix + "}:test:runs"
    from coordination.redis_client import sync_client

    return [json.loads(x) for x in sync_client(cluster.settings).lrange(key, 0, -1)]


@pytest.fixture
def cluster(settings: Settings, tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(settings, tmp_path)
    yield c
    c.stop()


@pytest.fixture
def scheduler(settings: Settings) -> SyncTaskScheduler:
    return SyncTaskScheduler(settings)


def test_worker_registers_runs_a_task_and_deregisters(
    cluster: Cluster, scheduler: SyncTaskScheduler
) -> None:
    worker_id = cluster.worker("w1", concurrency=2)
    services = SyncServiceRegistry(cluster.settings).find_services(service_type="worker")
    assert [s.metadata["worker_id"] for s in services] == [worker_id]
    assert services[0].metadata["capacity"] == 2
    task_id = scheduler.submit_task(task_name="tests.add", args=[2, 3])
    info = scheduler.wait_for_task(task_id, timeout=20)
    assert info.status is TaskStatus.COMPLETED, info
    assert info.result == 5
    assert info.worker_id == worker_id
    cluster.stop()  # warm shutdown: the worker leaves the cluster
    assert scheduler.list_workers() == []


def _sequential(scheduler: SyncTaskScheduler, n: int) -> Counter[str]:
    """Submit one task at a time, each after the previous finished: every dispatch sees all
    workers idle, so the choice is the strategy's alone."""
    seen: Counter[str] = Counter()
    for i in range(n):
        info = scheduler.wait_for_task(scheduler.submit_task(task_name="tests.noop"), timeout=20)
        assert info.status is TaskStatus.COMPLETED, (i, info)
        assert info.worker_id
        seen[info.worker_id] += 1
    return seen


def _three_workers(cluster: Cluster) -> list[str]:
    ids = [
        cluster.worker("a", concurrency=1, weight=1, wait=False),
        cluster.worker("b", concurrency=2, weight=2, wait=False),
        cluster.worker("c", concurrency=2, weight=3, wait=False),
    ]
    for worker_id in ids:
        cluster.wait_worker(worker_id)
    return ids


def test_round_robin_is_exact(cluster: Cluster, scheduler: SyncTaskScheduler) -> None:
    cluster.extra_env["COORD_SCHEDULER__DEFAULT_STRATEGY"] = "round_robin"
    a, b, c = _three_workers(cluster)
    assert _sequential(scheduler, 30) == {a: 10, b: 10, c: 10}


def test_weighted_round_robin_follows_weights(
    cluster: Cluster, scheduler: SyncTaskScheduler
) -> None:
    cluster.extra_env["COORD_SCHEDULER__DEFAULT_STRATEGY"] = "weighted_round_robin"
    a, b, c = _three_workers(cluster)
    assert _sequential(scheduler, 36) == {a: 6, b: 12, c: 18}


def test_least_loaded_spreads_by_free_capacity(
    cluster: Cluster, scheduler: SyncTaskScheduler
) -> None:
    cluster.extra_env["COORD_SCHEDULER__DEFAULT_STRATEGY"] = "least_loaded"
    a, b, c = _three_workers(cluster)
    # Five long tasks fill the five slots: least loaded never puts a second task on a worker
    # while another is idle, and never exceeds a worker's concurrency.
    ids = scheduler.submit_tasks(
        [{"task_name": "tests.sleep", "args": [3, f"t{i}"]} for i in range(5)]
    )
    wait_for(
        lambda: len([r for r in runs(cluster) if str(r["tag"]).startswith("start:")]) == 5,
        20,
        "5 starts",
    )
    placed = Counter(scheduler.get_task(i).worker_id for i in ids)  # type: ignore[union-attr]
    assert placed == {a: 1, b: 2, c: 2}


def test_strict_priority_no_inversion(cluster: Cluster, scheduler: SyncTaskScheduler) -> None:
    cluster.extra_env["COORD_SCHEDULER__DEFAULT_STRATEGY"] = "priority"
    cluster.worker("w1", concurrency=1)
    blocker = scheduler.submit_task(task_name="tests.sleep", args=[1.5, "blocker"])
    wait_for(
        lambda: scheduler.get_task(blocker).status is TaskStatus.RUNNING, 10, "blocker running"
    )  # type: ignore[union-attr]
    low = scheduler.submit_tasks(
        [{"task_name": "tests.record", "args": [f"low{i}"], "priority": 1} for i in range(10)]
    )
    high = scheduler.submit_tasks(
        [{"task_name": "tests.record", "args": [f"high{i}"], "priority": 9} for i in range(10)]
    )
    for task_id in low + high:
        assert scheduler.wait_for_task(task_id, timeout=30).status is TaskStatus.COMPLETED
    order = [r["tag"] for r in runs(cluster) if str(r["tag"]).startswith(("low", "high"))]
    assert order == [f"high{i}" for i in range(10)] + [f"low{i}" for i in range(10)]


def test_sigkill_worker_task_completes_elsewhere_counted_once(
    cluster: Cluster, scheduler: SyncTaskScheduler
) -> None:
    w1 = cluster.worker("w1", concurrency=1)
    w2 = cluster.worker("w2", concurrency=1)
    task_id = scheduler.submit_task(task_name="tests.sleep", args=[2, "victim"])
    first = wait_for(
        lambda: [r for r in runs(cluster) if r["tag"] == "start:victim"], 10, "task start"
    )
    victim = str(first[0]["worker"])
    cluster.kill("w1" if victim == w1 else "w2")
    info = scheduler.wait_for_task(task_id, timeout=30)
    assert info.status is TaskStatus.COMPLETED
    assert info.worker_id == (w2 if victim == w1 else w1)
    assert info.attempt == 2
    stats = scheduler.get_scheduler_stats()
    assert stats["completed"] == 1


def test_worker_restarted_under_its_name_requeues_its_predecessors_task(
    cluster: Cluster, scheduler: SyncTaskScheduler
) -> None:
    """Killed and restarted within its TTL: the new process must not keep renewing the lease
    of the task the dead one held (it would stay RUNNING forever); it runs it again."""
    w1 = cluster.worker("w1", concurrency=1)
    task_id = scheduler.submit_task(task_name="tests.sleep", args=[1, "orphan"])
    wait_for(lambda: [r for r in runs(cluster) if r["tag"] == "start:orphan"], 10, "task start")
    cluster.kill("w1")
    cluster.worker("w1", concurrency=1, wait=False)  # same name, well within the 2 s TTL
    info = scheduler.wait_for_task(task_id, timeout=30)
    assert info.status is TaskStatus.COMPLETED
    assert info.worker_id == w1
    assert info.attempt == 2
    assert [r["tag"] for r in runs(cluster)].count("start:orphan") == 2


def test_beat_failover_within_lock_ttl(cluster: Cluster) -> None:
    from coordination.keys import Keys
    from coordination.redis_client import sync_client

    client = sync_client(cluster.settings)
    lock_key = Keys(cluster.settings.redis.key_prefix).celery.beat_lock
    cluster.beat("beat1")
    token = wait_for(lambda: client.get(lock_key), 20, "a beat to take the lock")
    cluster.beat("beat2")
    leader = "beat1" if "Acquired lock" in cluster.log("beat1") else "beat2"
    assert "Acquired lock" not in cluster.log("beat2" if leader == "beat1" else "beat1")
    cluster.kill(leader)
    # lock timeout 3 s + the standby's polling interval
    new = wait_for(
        lambda: (v := client.get(lock_key)) and v != token and v, 10, "the standby to take over"
    )
    assert new != token


def test_timeout_ends_as_timeout(cluster: Cluster, scheduler: SyncTaskScheduler) -> None:
    cluster.worker("w1", concurrency=1)
    task_id = scheduler.submit_task(task_name="tests.sleep", args=[30, "slow"], timeout=1)
    info = scheduler.wait_for_task(task_id, timeout=20)
    assert info.status is TaskStatus.TIMEOUT
    # the slot is free again
    assert (
        scheduler.wait_for_task(scheduler.submit_task(task_name="tests.noop"), timeout=20).status
        is TaskStatus.COMPLETED
    )


def test_retry_then_success(cluster: Cluster, scheduler: SyncTaskScheduler) -> None:
    cluster.extra_env["COORD_SCHEDULER__RETRY_BACKOFF_BASE"] = "0.1"
    cluster.worker("w1", concurrency=1)
    task_id = scheduler.submit_task(task_name="tests.flaky", args=["f", 2], max_retries=3)
    info = scheduler.wait_for_task(task_id, timeout=30)
    assert info.status is TaskStatus.COMPLETED, info
    assert info.retries == 2
    assert info.result == "ok after 2 failures"
    celery_retry = scheduler.submit_task(task_name="tests.retrying", args=["r"], max_retries=1)
    info = scheduler.wait_for_task(celery_retry, timeout=30)
    assert info.status is TaskStatus.COMPLETED and info.retries == 1


def test_cancel_running_task(cluster: Cluster, scheduler: SyncTaskScheduler) -> None:
    cluster.worker("w1", concurrency=1)
    task_id = scheduler.submit_task(task_name="tests.sleep", args=[20, "long"])
    wait_for(lambda: any(r["tag"] == "start:long" for r in runs(cluster)), 10, "task start")
    # heartbeats report the live load: one running task on one slot
    registry = SyncServiceRegistry(cluster.settings)
    wait_for(
        lambda: [s.load for s in registry.find_services(service_type="worker")] == [1.0],
        10,
        "the worker's heartbeat to report load 1.0",
    )
    assert [w.load for w in scheduler.list_workers()] == [1.0]
    result = scheduler.cancel_task(task_id)
    assert result.ok and result.previous is TaskStatus.RUNNING
    assert scheduler.get_task(task_id).status is TaskStatus.CANCELLED  # type: ignore[union-attr]
    # the run was stopped (revoked), so the single slot takes new work at once
    assert (
        scheduler.wait_for_task(scheduler.submit_task(task_name="tests.noop"), timeout=15).status
        is TaskStatus.COMPLETED
    )
    assert not any(r["tag"] == "end:long" for r in runs(cluster))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_flower_lists_workers_and_tasks(cluster: Cluster, scheduler: SyncTaskScheduler) -> None:
    worker_id = cluster.worker("w1", concurrency=1)
    port = free_port()
    cluster.flower(port)
    base = f"http://127.0.0.1:{port}"
    auth = (
        cluster.settings.celery.flower_user,
        cluster.settings.celery.flower_password.get_secret_value(),
    )

    def up() -> bool:
        try:
            return httpx.get(f"{base}/healthcheck", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(up, 30, "Flower to answer")
    assert httpx.get(f"{base}/api/workers", timeout=5).status_code == 401
    # Flower learns a task's name from the task-received event: submit only once its event
    # stream is live, which listing the worker (from worker events) proves.
    wait_for(
        lambda: (
            worker_id
            in httpx.get(
                f"{base}/api/workers", auth=auth, params={"refresh": "true"}, timeout=10
            ).json()
        ),
        30,
        "Flower to list the worker",
    )
    task_id = scheduler.submit_task(task_name="tests.add", args=[1, 1])
    assert scheduler.wait_for_task(task_id, timeout=20).status is TaskStatus.COMPLETED
    tasks = wait_for(
        lambda: (
            (t := httpx.get(f"{base}/api/tasks", auth=auth, timeout=5).json())
            and task_id in t
            and t
        ),
        30,
        "Flower to list the task",
    )
    assert tasks[task_id]["name"] == "tests.add"


def test_strategy_enum_values_are_usable_from_settings() -> None:
    for strategy in SchedulingStrategy:
        assert (
            Settings.load(scheduler={"default_strategy": strategy.value}).scheduler.default_strategy
            is strategy
        )
