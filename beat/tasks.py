"""The maintenance tasks beat sends. Each is idempotent and takes a short lock of its own."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from beat.locks import try_acquire
from beat.schedule import MAINTENANCE, periods
from coordination.registry import HealthChecker, ServiceRegistry
from workers.app import app
from workers.context import WorkerContext, context
from workers.dispatcher import Dispatcher

log = logging.getLogger(__name__)
SNAPSHOTS_KEPT = 1440


def guarded(name: str) -> tuple[WorkerContext, bool]:
    ctx = context()
    return ctx, try_acquire(ctx.redis, ctx.keys, name, periods(ctx.settings)[name])


@app.task(name=f"{MAINTENANCE}.lease_sweep", ignore_result=True)
def lease_sweep() -> dict[str, Any]:
    """Requeue tasks of dead workers and unstarted bindings, promote due retries, dispatch."""
    ctx, ok = guarded("lease_sweep")
    if not ok:
        return {"locked": True}
    requeued = ctx.scheduler.requeue_expired_leases()
    promoted = ctx.scheduler.promote_delayed_tasks()
    dispatched = Dispatcher(app, ctx).dispatch_once()
    return {"requeued": len(requeued), "promoted": promoted, "dispatched": dispatched}


@app.task(name=f"{MAINTENANCE}.timeout_sweep", ignore_result=True)
def timeout_sweep() -> dict[str, Any]:
    ctx, ok = guarded("timeout_sweep")
    if not ok:
        return {"locked": True}
    timed_out = ctx.scheduler.timeout_overdue_tasks()
    if timed_out:
        Dispatcher(app, ctx).dispatch_once()
    return {"timed_out": len(timed_out)}


@app.task(name=f"{MAINTENANCE}.registry_cleanup", ignore_result=True)
def registry_cleanup() -> dict[str, Any]:
    ctx, ok = guarded("registry_cleanup")
    if not ok:
        return {"locked": True}
    return dict(ctx.registry.cleanup())


async def _health_checks(ctx: WorkerContext) -> dict[str, Any]:
    registry = ServiceRegistry(ctx.settings)
    await registry.initialize()
    checker = HealthChecker(registry)
    try:
        await checker.initialize()
        return dict(await checker.run_once())
    finally:
        await checker.close()
        await registry.close()


@app.task(name=f"{MAINTENANCE}.health_checks", ignore_result=True)
def health_checks() -> dict[str, Any]:
    ctx, ok = guarded("health_checks")
    if not ok:
        return {"locked": True}
    return asyncio.run(_health_checks(ctx))


@app.task(name=f"{MAINTENANCE}.container_health", ignore_result=True)
def container_health() -> dict[str, Any]:
    ctx, ok = guarded("container_health")
    if not ok:
        return {"locked": True}
    from beat.containers import heal_containers

    return asyncio.run(heal_containers(ctx.settings))


@app.task(name=f"{MAINTENANCE}.stats_snapshot", ignore_result=True)
def stats_snapshot() -> dict[str, Any]:
    ctx, ok = guarded("stats_snapshot")
    if not ok:
        return {"locked": True}
    snapshot = {
        "time": ctx.redis.time()[0],
        "scheduler": ctx.scheduler.get_scheduler_stats(),
        "registry": ctx.registry.get_registry_stats(),
    }
    key = ctx.keys.beat.stats_snapshots()
    pipe = ctx.redis.pipeline()
    pipe.lpush(key, json.dumps(snapshot, default=str))
    pipe.ltrim(key, 0, SNAPSHOTS_KEPT - 1)
    pipe.execute()
    return {"stored": True}
