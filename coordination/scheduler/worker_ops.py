"""Workers as scheduling targets: register, heartbeat, drain, deregister, read, snapshot."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from coordination.errors import InvalidInputError, NotFoundError
from coordination.quantity import parse_resources
from coordination.scheduler import codec
from coordination.scheduler.context import Context
from coordination.scheduler.io import Batch, Command, Operation, Script
from coordination.scheduler.models import TaskInfo, WorkerInfo, WorkerSpec, encode_resources


def register_request(ctx: Context, spec: WorkerSpec) -> Script:
    ttl = spec.ttl if spec.ttl is not None else ctx.cfg.worker_ttl
    resources = parse_resources(spec.resources, "resources") if spec.resources else None
    k = ctx.keys
    args = [
        spec.worker_id,
        spec.capacity,
        spec.weight,
        ",".join(dict.fromkeys(spec.queues)),
        ",".join(dict.fromkeys(spec.task_types or ())),
        encode_resources(resources) if resources else "",
        int(ttl * 1000),
        spec.delivery,
        spec.incarnation,
    ]
    return Script(
        "worker_register", [k.worker(spec.worker_id), k.workers(), k.worker_names()], args
    )


def register(ctx: Context, **fields: Any) -> Operation[None]:
    spec = codec.worker_spec(**fields)
    yield register_request(ctx, spec)


def _ttl_ms(value: Any, field: str = "ttl") -> str:
    return "" if value is None else str(int(codec.positive_seconds(value, field) * 1000))


def heartbeat(
    ctx: Context, worker_id: str, load: Any, ttl: Any, mode: str = "hb"
) -> Operation[int]:
    worker_id = codec.worker_id(worker_id)
    if load is not None and (
        isinstance(load, bool) or not isinstance(load, int | float) or not 0 <= load <= 1
    ):
        raise InvalidInputError("load", f"must be a number from 0 to 1, got {load!r}")
    k = ctx.keys
    keys = [k.worker(worker_id), k.workers(), k.worker_tasks(worker_id), k.leases()]
    lease = str(ctx.lease_ms)
    args = [worker_id, mode, "" if load is None else repr(float(load)), _ttl_ms(ttl), lease]
    renewed = int((yield Script("worker_heartbeat", keys, args)))
    if renewed < 0:
        raise NotFoundError(
            f"worker {worker_id!r} is not registered or has expired: call register_worker again"
        )
    return renewed


def set_draining(ctx: Context, worker_id: str, draining: bool) -> Operation[None]:
    worker_id = codec.worker_id(worker_id)
    found = yield Script("worker_drain", [ctx.keys.worker(worker_id)], ["1" if draining else "0"])
    if not int(found):
        raise NotFoundError(f"worker {worker_id!r} is not registered")


def deregister(ctx: Context, worker_id: str) -> Operation[list[str]]:
    ids = yield ctx.life("deregister", codec.worker_id(worker_id))
    return list(ids)


def read_workers(ctx: Context, ids: Sequence[str] | None = None) -> Operation[list[WorkerInfo]]:
    """Workers by id (all registered ones when ids is None), with ``alive`` by server time."""
    if ids is None:
        ids = yield Command(("ZRANGE", ctx.keys.worker_names(), 0, -1))
    requests = [Command(("TIME",)), *(Command(("HGETALL", ctx.keys.worker(i))) for i in ids)]
    replies = yield Batch(tuple(requests))
    secs, micros = replies[0]
    now_ms = int(secs) * 1000 + int(micros) // 1000
    return [codec.worker_info(h, now_ms) for h in replies[1:] if h]


def snapshot(
    ctx: Context, order: str, limit: int, only: str | None
) -> Operation[tuple[list[TaskInfo], list[WorkerInfo]]]:
    """Pending heads of every queue a worker with a free slot serves, and the workers."""
    workers = yield from read_workers(ctx, None if only is None else [only])
    workers = [w for w in workers if w.alive]
    queues = sorted({q for w in workers if w.has_slot() for q in w.queues})
    depth = min(max(limit * 4, 64), ctx.cfg.dispatch_scan_limit)
    key = ctx.keys.queue_fifo if order == "fifo" else ctx.keys.queue_priority
    heads = yield Batch(tuple(Command(("ZRANGE", key(q), 0, depth - 1)) for q in queues))
    ids = [i for chunk in heads for i in chunk]
    hashes = yield Batch(tuple(Command(("HGETALL", ctx.keys.task(i))) for i in ids))
    tasks = [codec.task_info(h) for h in hashes if h and h.get("status") == "pending"]
    return tasks, workers
