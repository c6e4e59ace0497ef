"""Each maintenance task beat sends, executed for real against the test Redis: it does its
job, and a second run within its period is skipped by its lock."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest

from beat import tasks
from beat.schedule import build_beat_schedule, periods
from coordination.config import Settings
from coordination.enums import ServiceStatus, TaskStatus
from coordination.keys import Keys
from coordination.redis_client import CoordRedis
from coordination.registry import SyncServiceRegistry
from coordination.scheduler import SyncTaskScheduler
from workers import context as worker_context


@pytest.fixture
def env(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> Iterator[Settings]:
    for name in list(os.environ):
        if name.startswith("COORD_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("COORD_REDIS__URL", settings.redis.url or "")
    monkeypatch.setenv("COORD_REDIS__KEY_PREFIX", settings.redis.key_prefix)
    monkeypatch.setenv("COORD_CONTAINER__RUNTIME", "process")
    monkeypatch.setenv("COORD_CONTAINER__LOG_DIR", str(tmp_path))
    worker_context._contexts.clear()
    yield worker_context.context().settings
    worker_context._contexts.clear()


def test_schedule_has_every_maintenance_task(settings: Settings) -> None:
    schedule = build_beat_schedule(settings)
    assert set(schedule) == set(periods(settings))
    for name, entry in schedule.items():
        assert entry["task"] == f"coord.maintenance.{name}"
        assert entry["schedule"] == periods(settings)[name]


def test_lease_sweep_requeues_a_dead_workers_task_and_is_lock_guarded(env: Settings) -> None:
    scheduler = SyncTaskScheduler(env)
    scheduler.register_worker("gone", 1, ttl=0.05)
    task_id = scheduler.submit_task(task_name="t")
    assert scheduler.dispatch(limit=1)[0].task_id == task_id
    scheduler.start_task(task_id, 1)
    import time

    deadline = time.monotonic() + 5
    while scheduler.list_workers()[0].alive:  # its 50 ms TTL runs out
        assert time.monotonic() < deadline
        time.sleep(0.01)
    first = tasks.lease_sweep()
    assert first["requeued"] == 1
    assert scheduler.get_task(task_id).status is TaskStatus.PENDING  # type: ignore[union-attr]
    assert tasks.lease_sweep() == {"locked": True}  # within its period: the lock holds


def test_timeout_sweep_times_out_overdue_tasks(env: Settings) -> None:
    scheduler = SyncTaskScheduler(env)
    scheduler.register_worker("w", 1)
    task_id = scheduler.submit_task(task_name="t", timeout=0.01)
    assignment = scheduler.dispatch(limit=1)[0]
    scheduler.start_task(task_id, assignment.attempt)
    import time

    time.sleep(0.05)  # the task's own 10 ms timeout has to pass: that is the point
    assert tasks.timeout_sweep() == {"timed_out": 1}
    assert scheduler.get_task(task_id).status is TaskStatus.TIMEOUT  # type: ignore[union-attr]


def test_registry_cleanup_and_health_checks_run(env: Settings) -> None:
    registry = SyncServiceRegistry(env)
    service_id = registry.register_service("svc", "agent", "127.0.0.1", None, ttl=60)
    summary = tasks.health_checks()
    assert "locked" not in summary
    assert summary["skipped"] == 1  # heartbeat-only: nothing to probe, HEALTHY while it beats
    assert registry.get_service(service_id).status is ServiceStatus.HEALTHY  # type: ignore[union-attr]
    assert set(tasks.registry_cleanup()) >= {"marked_offline", "purged"}


def test_stats_snapshot_and_container_health(env: Settings, redis_client: CoordRedis) -> None:
    SyncTaskScheduler(env).submit_task(task_name="t")
    assert tasks.stats_snapshot() == {"stored": True}
    raw = redis_client.lindex(Keys(env.redis.key_prefix).beat.stats_snapshots(), 0)
    snapshot = json.loads(raw or "{}")
    assert snapshot["scheduler"]["pending_tasks"] == 1
    assert "total_services" in snapshot["registry"]
    report = tasks.container_health()
    assert report["checked"] == 0 and report["restarted"] == []
