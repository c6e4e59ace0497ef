"""Task operations, written once as sans-I/O generators (see ``coordination.scheduler.io``).

Each function validates its input before yielding anything, so bad input never writes.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from coordination.enums import TaskStatus
from coordination.errors import InvalidInputError, NotFoundError
from coordination.scheduler import codec, listing, worker_ops
from coordination.scheduler.context import Context
from coordination.scheduler.io import Batch, Command, Operation, Script
from coordination.scheduler.models import (
    Assignment,
    TaskInfo,
    TaskSpec,
    TaskWaitTimeout,
    TransitionResult,
)
from coordination.scheduler.scheduling_policy import BUILTIN, SchedulingPolicy, parse_strategy

SUBMIT_CHUNK = 500  # tasks per script call inside one batch round trip
SWEEP_CHUNK = 500
DEAD_WORKER_PURGE_MS = 3_600_000


# -- submit --------------------------------------------------------------------------------
def submit(
    ctx: Context, items: Sequence[TaskSpec | Mapping[str, Any]], batch: bool
) -> Operation[list[str]]:
    rows: list[list[Any]] = []
    for i, item in enumerate(items):
        field = f"tasks[{i}]." if batch else ""
        spec = codec.task_spec(item, field)
        rows.append(codec.submit_fields(spec, uuid.uuid4().hex, ctx.cfg, field))
    if not rows:
        return []
    scripts = []
    for start in range(0, len(rows), SUBMIT_CHUNK):
        chunk = rows[start : start + SUBMIT_CHUNK]
        args: list[Any] = [ctx.task_ttl_ms, len(chunk)]
        for row in chunk:
            args.extend(row)
        args.append(ctx.events_channel)
        scripts.append(Script("task_submit", ctx.submit_keys, args))
    if len(scripts) == 1:
        return list((yield scripts[0]))
    replies = yield Batch(tuple(scripts))
    return [task_id for reply in replies for task_id in reply]


# -- binding -------------------------------------------------------------------------------
def _plan(
    ctx: Context, policy: SchedulingPolicy | None, strategy: Any
) -> tuple[str, str, SchedulingPolicy | None]:
    """(order, choice, python_policy): python_policy is set when the policy must run in Python."""
    chosen = parse_strategy(strategy)
    if chosen is not None:
        order, choice = BUILTIN[chosen.value]
        return order, choice, None
    if policy is not None:
        return policy.order, policy.choice, None if policy.runs_in_redis else policy
    order, choice = BUILTIN[ctx.cfg.default_strategy.value]
    return order, choice, None


def _limit(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 100_000:
        raise InvalidInputError("limit", f"must be an integer from 1 to 100000, got {value!r}")
    return value


def _delivery(value: Any) -> str:
    if value in (None, "", "none"):
        return ""
    if value != "celery":
        raise InvalidInputError("delivery", f"must be None or 'celery', got {value!r}")
    return "celery"


def dispatch(
    ctx: Context, policy: SchedulingPolicy | None, limit: int, strategy: Any, delivery: Any = None
) -> Operation[list[Assignment]]:
    limit = _limit(limit)
    deliver = _delivery(delivery)
    order, choice, python_policy = _plan(ctx, policy, strategy)
    if python_policy is not None:
        bound = yield from _python_bind(ctx, python_policy, limit, None, deliver)
    else:
        request = ctx.bind("push", order, choice, limit, deliver=deliver)
        _, bound = codec.bind_reply((yield request))
    return [codec.assignment(h) for h in bound]


def get_next(
    ctx: Context, policy: SchedulingPolicy | None, worker_id: str, strategy: Any
) -> Operation[TaskInfo | None]:
    worker_id = codec.worker_id(worker_id)
    order, _, python_policy = _plan(ctx, policy, strategy)
    if python_policy is not None:
        yield from _ensure_worker(ctx, worker_id)
        bound = yield from _python_bind(ctx, python_policy, 1, worker_id)
    else:
        request = ctx.bind("pull", order, "ll", 1, worker=worker_id, extra=ctx.worker_ttl_ms)
        _, bound = codec.bind_reply((yield request))
    return codec.task_info(bound[0]) if bound else None


def _ensure_worker(ctx: Context, worker_id: str) -> Operation[None]:
    """Pull form with a Python policy: register an unknown worker implicitly (capacity 1)."""
    workers = yield from worker_ops.read_workers(ctx, [worker_id])
    if not workers or not workers[0].alive:
        old = workers[0] if workers else None
        spec = codec.worker_spec(
            worker_id=worker_id,
            capacity=old.capacity if old else 1,
            weight=old.weight if old else 1,
            queues=old.queues if old else ("default",),
            task_types=old.task_types or None if old else None,
            resources=old.resources if old else None,
        )
        yield worker_ops.register_request(ctx, spec)


def _python_bind(
    ctx: Context, policy: SchedulingPolicy, limit: int, only: str | None, deliver: str = ""
) -> Operation[list[dict[str, str]]]:
    """Run a Python policy on a snapshot; bind each choice with the compare-and-set script."""
    tasks, workers = yield from worker_ops.snapshot(ctx, policy.order, limit, only)
    bound: list[dict[str, str]] = []
    while len(bound) < limit and tasks and workers:
        pair = policy.next_assignment(tasks, workers)
        if pair is None:
            break
        task, worker = pair
        tasks = [t for t in tasks if t.task_id != task.task_id]
        extra = "start" if only else ""
        reply = yield ctx.bind(
            "cas", policy.order, policy.choice, 1, worker.worker_id, task.task_id, extra, deliver
        )
        reason, items = codec.bind_reply(reply)
        if items:
            worker.take(task)
            bound.extend(items)
        elif reason == "max_concurrent":
            break
        elif reason in ("no_worker", "no_fit"):
            worker.inflight = worker.capacity  # changed under us: stop offering it this round
    return bound


# -- transitions ---------------------------------------------------------------------------
def is_current(ctx: Context, task_id: str, attempt: int) -> Operation[bool]:
    """True when the task is RUNNING at ``attempt``: one read, for an executor about to run a
    delivered message (a stale attempt, a cancelled or timed-out task is skipped)."""
    key = ctx.keys.task(codec.task_id(task_id))
    if attempt is None:
        raise InvalidInputError("attempt", "is_current needs the attempt it was given")
    wanted = codec.attempt(attempt)
    status, current = yield Command(("HMGET", key, "status", "attempt"))
    return bool(status == "running" and current == wanted)


def start(ctx: Context, task_id: str, attempt: int) -> Operation[TransitionResult]:
    if attempt is None:
        raise InvalidInputError("attempt", "start_task needs the attempt it was given")
    args = (codec.task_id(task_id), codec.attempt(attempt))
    return codec.transition((yield ctx.life("start", *args)))


def complete_request(
    ctx: Context, task_id: str, execution_time: Any, result: Any, attempt: Any
) -> Script:
    exec_s = (
        ""
        if execution_time is None
        else repr(codec.positive_seconds(execution_time, "execution_time", allow_zero=True))
    )
    args = (
        codec.task_id(task_id),
        codec.attempt(attempt),
        exec_s,
        codec.result_json(result, ctx.cfg),
    )
    return ctx.life("complete", *args)


def complete(
    ctx: Context, task_id: str, execution_time: Any, result: Any, attempt: Any
) -> Operation[TransitionResult]:
    return codec.transition((yield complete_request(ctx, task_id, execution_time, result, attempt)))


def then_dispatch(
    ctx: Context,
    policy: SchedulingPolicy | None,
    transition: Script,
    limit: int,
    delivery: Any = None,
) -> Operation[tuple[TransitionResult, list[Assignment]]]:
    """Run a transition that frees a slot (complete, fail, timeout) and bind the work that
    slot allows, in one round trip: the worker's path after every task refills its slot
    without a second call (a policy that runs in Python needs more). Every input is checked
    before anything is written."""
    deliver = _delivery(delivery)
    limit = _limit(limit)
    order, choice, python_policy = _plan(ctx, policy, None)
    if python_policy is not None:
        outcome = codec.transition((yield transition))
        assignments = yield from dispatch(ctx, policy, limit, None, delivery)
        return outcome, assignments
    bind = ctx.bind("push", order, choice, limit, deliver=deliver)
    replies = yield Batch((transition, bind))
    _, bound = codec.bind_reply(replies[1])
    return codec.transition(replies[0]), [codec.assignment(h) for h in bound]


def complete_many(ctx: Context, items: Iterable[Any]) -> Operation[list[TransitionResult]]:
    """Complete several tasks in one round trip: items are ids, Assignments, or (id, attempt)."""
    args: list[Any] = []
    for item in items:
        if isinstance(item, Assignment):
            task_id, attempt = item.task_id, item.attempt
        elif isinstance(item, tuple):
            task_id, attempt = item
        else:
            task_id, attempt = item, None
        args.extend((codec.task_id(task_id), codec.attempt(attempt), "", ""))
    if not args:
        return []
    replies = yield ctx.life("complete_batch", len(args) // 4, *args)
    return [codec.transition(r) for r in replies]


def fail_request(ctx: Context, task_id: str, error: Any, attempt: Any, retry: bool) -> Script:
    base_ms = int(ctx.cfg.retry_backoff_base * 1000)
    max_ms = int(ctx.cfg.retry_backoff_max * 1000)
    args = (codec.task_id(task_id), codec.attempt(attempt), codec.error_text(error),
            "1" if retry else "0", base_ms, max_ms)  # fmt: skip
    return ctx.life("fail", *args)


def fail(
    ctx: Context, task_id: str, error: Any, attempt: Any, retry: bool
) -> Operation[TransitionResult]:
    return codec.transition((yield fail_request(ctx, task_id, error, attempt, retry)))


def timeout_request(ctx: Context, task_id: str, attempt: Any) -> Script:
    return ctx.life("timeout", codec.task_id(task_id), codec.attempt(attempt))


def timeout(ctx: Context, task_id: str, attempt: Any) -> Operation[TransitionResult]:
    return codec.transition((yield timeout_request(ctx, task_id, attempt)))


def cancel(ctx: Context, task_id: str) -> Operation[TransitionResult]:
    return codec.transition((yield ctx.life("cancel", codec.task_id(task_id), ctx.events_channel)))


# -- sweeps --------------------------------------------------------------------------------
def sweep(ctx: Context, op: str, *extra: Any) -> Operation[list[str]]:
    moved: list[str] = []
    for _ in range(1000):  # bounded: each round handles SWEEP_CHUNK entries
        ids = yield ctx.life(op, SWEEP_CHUNK, *extra)
        moved.extend(ids)
        if len(ids) < SWEEP_CHUNK:
            break
    return moved


def requeue_expired(ctx: Context) -> Operation[list[str]]:
    return (yield from sweep(ctx, "requeue_expired", DEAD_WORKER_PURGE_MS))


# -- reads ---------------------------------------------------------------------------------
def get_task(ctx: Context, task_id: str) -> Operation[TaskInfo | None]:
    h = yield Command(("HGETALL", ctx.keys.task(codec.task_id(task_id))))
    return codec.task_info(h) if h else None


def wait_for_task(ctx: Context, task_id: str, wait: Any) -> Operation[TaskInfo]:
    """Return once the task is terminal: blocks on its notify list (BLMOVE), never polls."""
    task_id = codec.task_id(task_id)
    budget = codec.positive_seconds(wait, "timeout", allow_zero=True)
    deadline = time.monotonic() + budget
    notify, flag = ctx.keys.notify(task_id), ctx.keys.waiting(task_id)
    step_cap = max(0.05, ctx.settings.redis.socket_timeout / 2)  # stay under the socket timeout
    while True:
        # the flag first, then the state: a transition after the flag pushes a token for us
        flag_ms = int((max(0.0, deadline - time.monotonic()) + 10) * 1000)
        yield Command(("SET", flag, "1", "PX", flag_ms))
        info = yield from get_task(ctx, task_id)
        if info is None:
            raise NotFoundError(f"task {task_id!r} does not exist (or has expired)")
        if info.is_terminal:
            return info
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TaskWaitTimeout(f"task {task_id!r} still {info.status.value} after {budget}s")
        # BLMOVE from the list to itself: wakes every waiter, keeps the token and its TTL
        yield Command(
            ("BLMOVE", notify, notify, "RIGHT", "LEFT", round(min(remaining, step_cap), 3) or 0.001)
        )


def list_tasks(
    ctx: Context, status: Any, queue: str | None, limit: int
) -> Operation[list[TaskInfo]]:
    wanted = _status(status)
    if queue is not None:
        codec.task_spec({"task_name": "x", "queue": queue})  # same validation as submit
    return (yield from listing.list_tasks(ctx, wanted, queue, _limit(limit)))


def _status(value: Any) -> TaskStatus | None:
    if value is None or isinstance(value, TaskStatus):
        return value
    try:
        return TaskStatus(value)
    except ValueError:
        raise InvalidInputError("status", f"unknown status {value!r}") from None
