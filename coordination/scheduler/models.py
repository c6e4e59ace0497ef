"""Data the scheduler takes and returns: validated submissions, tasks, workers, results.

Priority range: ``PRIORITY_MIN`` (-100) to ``PRIORITY_MAX`` (100), default 0; higher runs first.
Anything outside it is ``InvalidInputError("priority", ...)``. Resources are normalized by
``coordination.quantity`` (cpu/gpu/custom -> milli-units, memory -> bytes).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from coordination.enums import TaskStatus
from coordination.errors import CoordinationError

PRIORITY_MIN = -100
PRIORITY_MAX = 100
MAX_ID_LENGTH = 256

# queue and type names travel in comma-joined worker fields: no commas, no whitespace
QueueName = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[^\s,=]+$")]
TaskName = Annotated[str, Field(min_length=1, max_length=256, pattern=r"^[^\x00-\x1f\x7f]+$")]
WorkerId = Annotated[str, Field(min_length=1, max_length=MAX_ID_LENGTH, pattern=r"^[^\s,]+$")]


class TaskWaitTimeout(CoordinationError, TimeoutError):
    """wait_for_task gave up: the task was not finished within the timeout."""


class TaskSpec(BaseModel):
    """One submission, validated before anything is written (also the batch item type)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    task_name: TaskName
    task_type: QueueName = "default"
    priority: Annotated[int, Field(ge=PRIORITY_MIN, le=PRIORITY_MAX, strict=True)] = 0
    timeout: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    resources: Mapping[str, str | int | float] | None = None
    args: list[Any] | tuple[Any, ...] | None = None
    kwargs: dict[str, Any] | None = None
    queue: QueueName = "default"
    max_retries: Annotated[int, Field(ge=0, le=1000)] | None = None
    countdown: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    eta: datetime | Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    idempotency_key: Annotated[str, Field(min_length=1, max_length=MAX_ID_LENGTH)] | None = None

    def eta_ms(self) -> int | None:
        if self.eta is None:
            return None
        if isinstance(self.eta, datetime):
            eta = self.eta if self.eta.tzinfo else self.eta.replace(tzinfo=UTC)
            return int(eta.timestamp() * 1000)
        return int(self.eta * 1000)


class TaskInfo(BaseModel):  # type: ignore[no-redef]  # a field named kwargs vs the plugin's __init__
    """A task as stored in Redis. Times are epoch seconds (Redis server clock)."""

    task_id: str
    task_name: str
    task_type: str = "default"
    queue: str = "default"
    priority: int = 0
    status: TaskStatus = TaskStatus.PENDING
    attempt: int = 0
    retries: int = 0
    max_retries: int = 0
    worker_id: str | None = None
    args: list[Any] = Field(default_factory=list)
    kwargs: dict[str, Any] = Field(default_factory=dict)
    resources: dict[str, int] = Field(default_factory=dict)
    timeout: float | None = None
    result: Any = None
    error: str | None = None
    submitted_at: float = 0.0
    bound_at: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    execution_time: float | None = None
    sequence: int = 0
    idempotency_key: str | None = None

    @property
    def is_terminal(self) -> bool:
        return self.status.is_terminal

    def can_retry(self) -> bool:
        """True while a failure would be retried rather than dead-lettered."""
        return not self.is_terminal and self.retries < self.max_retries


class WorkerInfo(BaseModel):
    """A worker as a scheduling target. ``resources=None``: it does not limit resources."""

    model_config = ConfigDict(validate_assignment=False)

    worker_id: str
    capacity: int = 1
    inflight: int = 0
    weight: int = 1
    queues: tuple[str, ...] = ("default",)
    task_types: tuple[str, ...] = ()
    resources: dict[str, int] | None = None
    resources_used: dict[str, int] = Field(default_factory=dict)
    draining: bool = False
    load: float = 0.0
    current_weight: int = 0
    expires_at: float | None = None
    alive: bool = True
    implicit: bool = False
    delivery: str = "none"

    @property
    def free_slots(self) -> int:
        return max(0, self.capacity - self.inflight)

    def has_slot(self) -> bool:
        return self.alive and not self.draining and self.inflight < self.capacity

    def fits(self, task: TaskInfo) -> bool:
        """Alive, not draining, serves the queue and type, a free slot and the resources."""
        if not self.has_slot() or task.queue not in self.queues:
            return False
        if self.task_types and task.task_type not in self.task_types:
            return False
        if self.resources is None:
            return True
        return all(
            self.resources.get(name, 0) - self.resources_used.get(name, 0) >= amount
            for name, amount in task.resources.items()
        )

    def take(self, task: TaskInfo) -> None:
        """Account for ``task`` bound here (local copy only; Redis does its own in the script)."""
        self.inflight += 1
        for name, amount in task.resources.items():
            self.resources_used[name] = self.resources_used.get(name, 0) + amount


# Assignment and TransitionResult are outputs built from our own scripts' replies on the
# hottest paths: plain slotted dataclasses, not validated models (a tenth of the cost).
@dataclass(frozen=True, slots=True)
class Assignment:
    """A task bound to a worker by dispatch: what the dispatcher hands to that worker."""

    task_id: str
    attempt: int
    worker_id: str
    task_name: str
    task_type: str
    queue: str
    args: list[Any] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)
    timeout: float | None = None
    priority: int = 0


@dataclass(frozen=True, slots=True)
class TransitionResult:
    """Outcome of a transition. Refusals are results (ok=False), never exceptions.

    reason: ok | not_found | stale_attempt | already_terminal | wrong_state.
    """

    ok: bool
    status: TaskStatus | None
    reason: str
    attempt: int = 0
    worker_id: str | None = None
    previous: TaskStatus | None = None

    def __bool__(self) -> bool:
        return self.ok


class WorkerSpec(BaseModel):
    """register_worker input."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    worker_id: WorkerId
    capacity: Annotated[int, Field(ge=1, le=1_000_000, strict=True)]
    weight: Annotated[int, Field(ge=1, le=1_000_000, strict=True)] = 1
    queues: Annotated[tuple[QueueName, ...], Field(min_length=1, max_length=256)] = ("default",)
    task_types: tuple[QueueName, ...] | None = None
    resources: Mapping[str, str | int | float] | None = None
    ttl: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    delivery: Literal["none", "celery"] = "none"
    incarnation: Annotated[str, Field(max_length=128)] = ""

    @field_validator("queues", "task_types", mode="before")
    @classmethod
    def _no_bare_string(cls, value: Any) -> Any:
        # a bare "default" would otherwise become ("d", "e", ...)
        return (value,) if isinstance(value, str) else value


def encode_resources(resources: Mapping[str, int]) -> str:
    """Normalized resources as the scripts read them: ``"cpu=2000,memory=4294967296"``."""
    return ",".join(f"{name}={amount}" for name, amount in sorted(resources.items()) if amount)


def decode_resources(text: str | None) -> dict[str, int]:
    out: dict[str, int] = {}
    for part in (text or "").split(","):
        name, sep, amount = part.partition("=")
        if sep:
            out[name] = int(float(amount))
    return out


def seconds(ms: str | None) -> float | None:
    """Epoch milliseconds as stored by the scripts -> epoch seconds."""
    if ms is None or ms == "":
        return None
    value = float(ms)
    return value / 1000.0 if math.isfinite(value) else None
