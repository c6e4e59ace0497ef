"""The beat schedule, built from the settings. Every entry is an idempotent, lock-guarded task.

| task                               | period                                   | what it does |
|------------------------------------|------------------------------------------|--------------|
| coord.maintenance.health_checks    | registry.health_check_interval           | HealthChecker.run_once over every instance |
| coord.maintenance.registry_cleanup | registry.cleanup_interval                | expired instances -> OFFLINE, purge old ones |
| coord.maintenance.lease_sweep      | celery.heartbeat_interval                | requeue tasks of dead workers / unstarted bindings, promote due delayed tasks, dispatch |
| coord.maintenance.timeout_sweep    | scheduler.task_timeout_check_interval    | overdue RUNNING tasks -> TIMEOUT |
| coord.maintenance.container_health | container.health_check_interval          | restart exited containers by policy (self-healing) |
| coord.maintenance.stats_snapshot   | celery.stats_interval                    | scheduler + registry stats into a capped list |
"""

from __future__ import annotations

from typing import Any

from coordination.config import Settings

MAINTENANCE = "coord.maintenance"


def periods(settings: Settings) -> dict[str, float]:
    """Seconds between runs of each maintenance task."""
    return {
        "health_checks": settings.registry.health_check_interval,
        "registry_cleanup": settings.registry.cleanup_interval,
        "lease_sweep": settings.celery.heartbeat_interval,
        "timeout_sweep": settings.scheduler.task_timeout_check_interval,
        "container_health": settings.container.health_check_interval,
        "stats_snapshot": settings.celery.stats_interval,
    }


def build_beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    schedule: dict[str, dict[str, Any]] = {}
    for name, seconds in periods(settings).items():
        schedule[name] = {
            "task": f"{MAINTENANCE}.{name}",
            "schedule": float(seconds),
            # A run that could not start within its period is superseded by the next one.
            "options": {"expires": float(seconds)},
        }
    return schedule
