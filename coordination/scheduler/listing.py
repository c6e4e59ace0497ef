"""list_tasks and get_scheduler_stats: reads over the indexes (admin calls, bounded work)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from coordination.enums import TaskStatus
from coordination.scheduler import codec
from coordination.scheduler.context import Context
from coordination.scheduler.io import Batch, Command, Operation
from coordination.scheduler.models import TaskInfo

MAX_CHUNKS = 20  # with a queue filter, read at most this many chunks of each index

_TERMINAL = (TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED, TaskStatus.TIMEOUT)


def _sources(
    ctx: Context, status: TaskStatus | None, queues: list[str]
) -> Iterator[tuple[str, bool]]:
    """(index key, newest first?) for the wanted status, in listing order."""
    k = ctx.keys
    if status in (None, TaskStatus.RUNNING):
        yield k.leases(), False
    if status in (None, TaskStatus.PENDING):
        for q in queues:
            yield k.queue_priority(q), False
        yield k.delayed(), False
    for done in _TERMINAL:
        if status in (None, done):
            yield k.terminal_index(done.value), True


def list_tasks(
    ctx: Context, status: TaskStatus | None, queue: str | None, limit: int
) -> Operation[list[TaskInfo]]:
    if queue is not None:
        queues = [queue]
    else:
        queues = sorted((yield Command(("SMEMBERS", ctx.keys.queues()))))
    out: list[TaskInfo] = []
    seen: set[str] = set()
    chunk = max(limit, 100)
    for key, newest_first in _sources(ctx, status, queues):
        for n in range(MAX_CHUNKS):
            lo, hi = n * chunk, (n + 1) * chunk - 1
            ids = yield Command(("ZRANGE", key, lo, hi, *(("REV",) if newest_first else ())))
            hashes = yield Batch(tuple(Command(("HGETALL", ctx.keys.task(i))) for i in ids))
            for h in hashes:
                if not h or h["id"] in seen:
                    continue
                info = codec.task_info(h)
                if (status is None or info.status is status) and (
                    queue is None or info.queue == queue
                ):
                    seen.add(info.task_id)
                    out.append(info)
                    if len(out) >= limit:
                        return out
            if len(ids) < chunk:
                break
    return out


def stats(ctx: Context) -> Operation[dict[str, Any]]:
    k = ctx.keys
    first = yield Batch(
        (
            Command(("TIME",)),
            Command(("HGETALL", k.stats())),
            Command(("SMEMBERS", k.queues())),
            Command(("ZCARD", k.delayed())),
            Command(("ZCARD", k.dead_letter())),
        )
    )
    (secs, micros), counters, queue_names, delayed, dead = first
    now_ms = int(secs) * 1000 + int(micros) // 1000
    queue_names = sorted(queue_names)
    second = yield Batch(
        (
            Command(("ZCOUNT", k.workers(), f"({now_ms}", "+inf")),
            *(Command(("ZCARD", k.queue_priority(q))) for q in queue_names),
        )
    )
    c = {name: float(value) for name, value in counters.items()}

    def count(name: str) -> int:
        return max(0, int(c.get(name, 0)))

    completed, failed, timed_out = count("completed"), count("failed"), count("timeout")
    finished = completed + failed + timed_out
    executions = count("exec_count")
    return {
        "pending_tasks": count("pending"),
        "running_tasks": count("running"),
        "submitted": count("submitted"),
        "completed": completed,
        "failed": failed,
        "cancelled": count("cancelled"),
        "timeout": timed_out,
        "retried": count("retried"),
        "requeued": count("requeued"),
        "success_rate": completed / finished if finished else 0.0,
        "average_execution_time": c.get("exec_total", 0.0) / executions if executions else 0.0,
        "queue_depths": dict(zip(queue_names, (int(n) for n in second[1:]), strict=True)),
        "delayed_tasks": int(delayed),
        "dead_letter": int(dead),
        "live_workers": int(second[0]),
        "max_concurrent_tasks": ctx.cfg.max_concurrent_tasks,
    }
