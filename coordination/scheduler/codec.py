"""Validation of public inputs and conversion between Redis replies and models."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from coordination.config import SchedulerSettings
from coordination.enums import TaskStatus
from coordination.errors import InvalidInputError
from coordination.quantity import parse_resources
from coordination.scheduler.models import (
    MAX_ID_LENGTH,
    Assignment,
    TaskInfo,
    TaskSpec,
    TransitionResult,
    WorkerInfo,
    WorkerSpec,
    decode_resources,
    encode_resources,
    seconds,
)

# [args, kwargs]: the bind script appends Celery's embed to make the message body as is
_EMPTY_PAYLOAD = "[[],{}]"
MAX_ERROR_CHARS = 64 * 1024


def task_spec(item: TaskSpec | Mapping[str, Any], field: str = "") -> TaskSpec:
    if isinstance(item, TaskSpec):
        return item
    if not isinstance(item, Mapping):
        raise InvalidInputError(field or "task", "must be a TaskSpec or a mapping of its fields")
    try:
        return TaskSpec(**item)
    except ValidationError as exc:
        raise InvalidInputError.from_pydantic(exc, prefix=field) from None
    except TypeError as exc:
        raise InvalidInputError(field or "task", str(exc)) from None


def worker_spec(**fields: Any) -> WorkerSpec:
    try:
        return WorkerSpec(**fields)
    except ValidationError as exc:
        raise InvalidInputError.from_pydantic(exc) from None


_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)


def to_json(value: Any, field: str) -> str:
    try:
        return _ENCODER.encode(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(field, f"not JSON-serializable: {exc}") from None


def payload(spec: TaskSpec, cfg: SchedulerSettings, field: str = "") -> str:
    """args and kwargs as the one JSON string a task keeps; size-checked."""
    if not spec.args and not spec.kwargs:
        return _EMPTY_PAYLOAD
    args = list(spec.args or ())
    kwargs = spec.kwargs or {}
    try:
        text = _ENCODER.encode([args, kwargs])
    except (TypeError, ValueError):
        to_json(args, field + "args")  # raises, naming the field at fault
        to_json(kwargs, field + "kwargs")
        raise
    size = len(text.encode()) - len(_EMPTY_PAYLOAD)
    if size > cfg.max_payload_bytes:
        name = "args" if len(to_json(args, "args")) >= len(to_json(kwargs, "kwargs")) else "kwargs"
        raise InvalidInputError(
            field + name,
            f"args and kwargs take {size} bytes as JSON, above max_payload_bytes={cfg.max_payload_bytes}",
        )
    return text


def result_json(result: Any, cfg: SchedulerSettings) -> str:
    if result is None:
        return ""
    text = to_json(result, "result")
    if len(text.encode()) > cfg.max_payload_bytes:
        raise InvalidInputError(
            "result",
            f"{len(text.encode())} bytes as JSON, above max_payload_bytes={cfg.max_payload_bytes}",
        )
    return text


def submit_fields(
    spec: TaskSpec, task_id: str, cfg: SchedulerSettings, field: str = ""
) -> list[Any]:
    """The 12 per-task ARGV fields of task_submit.lua."""
    if spec.countdown is not None and spec.eta is not None:
        raise InvalidInputError(field + "eta", "give countdown or eta, not both")
    resources = encode_resources(parse_resources(spec.resources, field + "resources"))
    return [
        task_id,
        spec.task_name,
        spec.task_type,
        spec.queue,
        spec.priority,
        "" if spec.timeout is None else repr(float(spec.timeout)),
        resources,
        payload(spec, cfg, field),
        cfg.max_retries if spec.max_retries is None else spec.max_retries,
        "" if spec.countdown is None else round(spec.countdown * 1000),
        spec.eta_ms() or "",
        spec.idempotency_key or "",
    ]


def task_id(value: Any, field: str = "task_id") -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_ID_LENGTH:
        raise InvalidInputError(
            field, f"must be a non-empty string of at most {MAX_ID_LENGTH} characters"
        )
    return value


def worker_id(value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_ID_LENGTH or "," in value:
        raise InvalidInputError(
            "worker_id",
            f"must be a non-empty string of at most {MAX_ID_LENGTH} characters, no commas",
        )
    if any(c.isspace() for c in value):
        raise InvalidInputError("worker_id", "must not contain whitespace")
    return value


def attempt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInputError("attempt", f"must be a non-negative integer, got {value!r}")
    return str(value)


def positive_seconds(value: Any, field: str, *, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInputError(field, f"must be a finite number of seconds, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        raise InvalidInputError(field, f"must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    return float(value)


def error_text(error: Any) -> str:
    if isinstance(error, BaseException):
        text = f"{type(error).__name__}: {error}"
    elif isinstance(error, str):
        text = error
    else:
        raise InvalidInputError(
            "error", f"must be a string or an exception, got {type(error).__name__}"
        )
    return text[:MAX_ERROR_CHARS]


def pairs(flat: Sequence[Any]) -> dict[str, str]:
    return dict(zip(flat[::2], flat[1::2], strict=True))


def _opt_float(value: str | None) -> float | None:
    return None if value is None or value == "" else float(value)


def _payload(h: Mapping[str, str]) -> tuple[list[Any], dict[str, Any]]:
    args, kwargs = json.loads(h.get("payload") or _EMPTY_PAYLOAD)
    return list(args), dict(kwargs)


def task_info(h: Mapping[str, str]) -> TaskInfo:
    args, kwargs = _payload(h)
    result = h.get("result")
    return TaskInfo(
        task_id=h["id"],
        task_name=h.get("name", ""),
        task_type=h.get("type", "default"),
        queue=h.get("queue", "default"),
        priority=int(h.get("prio", 0)),
        status=TaskStatus(h.get("status", "pending")),
        attempt=int(h.get("attempt", 0)),
        retries=int(h.get("retries", 0)),
        max_retries=int(h.get("maxr", 0)),
        worker_id=h.get("worker") or None,
        args=args,
        kwargs=kwargs,
        resources=decode_resources(h.get("res")),
        timeout=_opt_float(h.get("timeout")),
        result=json.loads(result) if result else None,
        error=h.get("error") or None,
        submitted_at=seconds(h.get("sub")) or 0.0,
        bound_at=seconds(h.get("bound")),
        started_at=seconds(h.get("start")),
        finished_at=seconds(h.get("fin")),
        execution_time=_opt_float(h.get("exec")),
        sequence=int(h.get("seq", 0)),
        idempotency_key=h.get("idem") or None,
    )


def assignment(h: Mapping[str, str]) -> Assignment:
    args, kwargs = _payload(h)
    return Assignment(
        task_id=h["id"],
        attempt=int(h["attempt"]),
        worker_id=h["worker"],
        task_name=h["name"],
        task_type=h["type"],
        queue=h["queue"],
        args=args,
        kwargs=kwargs,
        timeout=_opt_float(h.get("timeout")),
        priority=int(h.get("prio", 0)),
    )


def bind_reply(reply: Sequence[Any]) -> tuple[str, list[dict[str, str]]]:
    return str(reply[0]), [pairs(flat) for flat in reply[1:]]


def transition(reply: Sequence[Any]) -> TransitionResult:
    ok, reason, status, attempt_no, worker, previous = reply
    return TransitionResult(
        ok=bool(int(ok)),
        reason=str(reason),
        status=TaskStatus(status) if status else None,
        attempt=int(attempt_no),
        worker_id=worker or None,
        previous=TaskStatus(previous) if previous else None,
    )


def worker_info(h: Mapping[str, str], now_ms: int) -> WorkerInfo:
    expires = int(float(h.get("exp", 0)))
    rcap = h.get("rcap")
    return WorkerInfo(
        worker_id=h["id"],
        capacity=int(h.get("cap", 1)),
        inflight=int(h.get("inflight", 0)),
        weight=int(h.get("weight", 1)),
        queues=tuple(q for q in h.get("queues", "").split(",") if q),
        task_types=tuple(t for t in h.get("types", "").split(",") if t),
        resources=decode_resources(rcap) if rcap else None,
        resources_used=decode_resources(h.get("rused")),
        draining=h.get("drain") == "1",
        load=float(h.get("load", 0) or 0),
        current_weight=int(float(h.get("cw", 0) or 0)),
        expires_at=expires / 1000.0,
        alive=expires > now_ms,
        implicit=h.get("implicit") == "1",
        delivery=h.get("deliver") or "none",
    )
