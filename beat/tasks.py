"""The maintenance tasks beat sends. Each is idempotent and takes a short lock of its own."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import Callable
from typing import Any

from beat.locks import try_acquire
from beat.schedule import MAINTENANCE, periods
from coordination.registry import HealthChecker, ServiceRegistry
from workers.app import app
from workers.context import WorkerContext, context
from workers.dispatcher import Dispatcher

log = logging.getLogger(__name__)
SNAPSHOTS_KEPT = 1440

Report = dict[str, Any]


def maintenance(name: str) -> Callable[[Callable[[WorkerContext], Report]], Any]:
    """Register ``fn(ctx)`` as the beat task ``coord.maintenance.<name>``, run only by the
    caller that wins this period's lock (a second beat or a repeated send reports 'locked')."""

    def register(fn: Callable[[WorkerContext], Report]) -> Any:
        @app.task(name=f"{MAINTENANCE}.{name}", ignore_result=True)
        @functools.wraps(fn)
        def task() -> Report:
            ctx = context()
            if not try_acquire(ctx.redis, ctx.keys, name, periods(ctx.settings)[name]):
                return {"locked": True}
            return fn(ctx)

        return task

    return register


@maintenance("lease_sweep")
def lease_sweep(ctx: WorkerContext) -> Report:
    """Requeue tasks of dead workers and unstarted bindings, promote due retries, dispatch."""
    requeued = ctx.scheduler.requeue_expired_leases()
    promoted = ctx.scheduler.promote_delayed_tasks()
    dispatched = Dispatcher(app, ctx).dispatch_once()
    return {"requeued": len(requeued), "promoted": promoted, "dispatched": dispatched}


@maintenance("timeout_sweep")
def timeout_sweep(ctx: WorkerContext) -> Report:
    timed_out = ctx.scheduler.timeout_overdue_tasks()
    if timed_out:
        Dispatcher(app, ctx).dispatch_once()
    return {"timed_out": len(timed_out)}


@maintenance("registry_cleanup")
def registry_cleanup(ctx: WorkerContext) -> Report:
    return dict(ctx.registry.cleanup())


async def _health_checks(ctx: WorkerContext) -> Report:
    registry = ServiceRegistry(ctx.settings)
    await registry.initialize()
    checker = HealthChecker(registry)
    try:
        await checker.initialize()
        return dict(await checker.run_once())
    finally:
        await checker.close()
        await registry.close()


@maintenance("health_checks")
def health_checks(ctx: WorkerContext) -> Report:
    return asyncio.run(_health_checks(ctx))


@maintenance("container_health")
def container_health(ctx: WorkerContext) -> Report:
    from beat.containers import heal_containers  # Docker SDK only where containers are used

    return asyncio.run(heal_containers(ctx.settings))


@maintenance("stats_snapshot")
def stats_snapshot(ctx: WorkerContext) -> Report:
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
