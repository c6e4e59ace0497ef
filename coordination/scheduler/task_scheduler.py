"""TaskScheduler (asyncio): tasks in Redis priority queues, bound to workers by Lua scripts.

Lifecycle: PENDING -> RUNNING (bound: attempt + 1, a lease) -> COMPLETED | FAILED | TIMEOUT |
CANCELLED. RUNNING -> PENDING when the lease is lost (attempt kept, no retry used) or on a
retriable failure (delayed by exponential backoff). Every transition is one script that checks
the state and the attempt (fencing), so a stale or repeated call changes nothing and is answered
with a ``TransitionResult`` saying why. Terminal states are final.

Push form: ``dispatch()`` binds pending tasks to live workers with free slots; each bound task
must be started (``start_task(task_id, attempt)``) within ``scheduler.start_timeout`` or the
lease sweep requeues it. With ``delivery="celery"`` only workers registered with that delivery
are considered, and the binding script itself enqueues each task's Celery message on the
worker's queue and starts it (no ``start_task``; an executor may check ``is_current``). Pull form:
``get_next_task(worker_id)`` binds and starts one task for that worker; an unknown worker is
registered implicitly with capacity 1, serving the ``default`` queue, every task type and no
resource limit (register it first for anything else).

``SyncTaskScheduler`` (``coordination.scheduler.sync_scheduler``) is the same API without
``await``; both run the same operations (``coordination.scheduler.operations``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from coordination.config import Settings
from coordination.enums import SchedulingStrategy, TaskStatus
from coordination.redis_client import AsyncCoordRedis, async_client
from coordination.scheduler import listing, operations, worker_ops
from coordination.scheduler.context import Context
from coordination.scheduler.io import Operation, run_async
from coordination.scheduler.models import (
    Assignment,
    TaskInfo,
    TaskSpec,
    TransitionResult,
    WorkerInfo,
)
from coordination.scheduler.scheduling_policy import SchedulingPolicy
from coordination.scripts import Scripts, script_source

SCRIPT_NAMES = ("task_submit", "task_bind", "task_lifecycle", "worker_register",
                "worker_heartbeat", "worker_drain")  # fmt: skip


class SchedulerBase:
    """Settings, key context and policy, shared by the async and the sync scheduler."""

    def __init__(self, settings: Settings | None = None, *, policy: SchedulingPolicy | None = None):
        self.settings = settings if settings is not None else Settings.load()
        self._ctx = Context(self.settings)
        self.policy = policy

    def set_policy(self, policy: SchedulingPolicy | None) -> None:
        """Use ``policy`` for dispatch/get_next_task when no strategy is passed (None: settings)."""
        self.policy = policy

    def _submit_one(self, task_name: str, **fields: Any) -> Operation[list[str]]:
        given = {k: v for k, v in fields.items() if v is not None}
        return operations.submit(self._ctx, [{"task_name": task_name, **given}], batch=False)


class TaskScheduler(SchedulerBase):
    """The asyncio scheduler. ``await initialize()`` first (or let the first call connect)."""

    def __init__(self, settings: Settings | None = None, *, policy: SchedulingPolicy | None = None):
        super().__init__(settings, policy=policy)
        self._client: AsyncCoordRedis | None = None
        self._scripts: Scripts | None = None

    async def initialize(self) -> None:
        """Connect and load the scripts (idempotent)."""
        if self._client is None:
            client = async_client(self.settings)
            for name in SCRIPT_NAMES:
                await client.script_load(script_source(name))
            self._client, self._scripts = client, Scripts(client)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = self._scripts = None

    async def _run(self, op: Operation[Any]) -> Any:
        if self._client is None or self._scripts is None:
            await self.initialize()
        assert self._client is not None and self._scripts is not None
        return await run_async(self._client, self._scripts, op)

    # -- submit ----------------------------------------------------------------------------
    async def submit_task(
        self,
        task_name: str,
        task_type: str = "default",
        priority: int = 0,
        timeout: float | None = None,
        resources: Mapping[str, str | int | float] | None = None,
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        queue: str = "default",
        max_retries: int | None = None,
        countdown: float | None = None,
        eta: Any = None,
        idempotency_key: str | None = None,
    ) -> str:
        """Submit one task; returns its id (the earlier id if ``idempotency_key`` was seen)."""
        op = self._submit_one(
            task_name, task_type=task_type, priority=priority, timeout=timeout,
            resources=resources, args=args, kwargs=kwargs, queue=queue, max_retries=max_retries,
            countdown=countdown, eta=eta, idempotency_key=idempotency_key,
        )  # fmt: skip
        ids: list[str] = await self._run(op)
        return ids[0]

    async def submit_tasks(self, tasks: Iterable[TaskSpec | Mapping[str, Any]]) -> list[str]:
        """Submit a batch in one round trip; all are validated before any is written."""
        result: list[str] = await self._run(operations.submit(self._ctx, list(tasks), batch=True))
        return result

    # -- binding ---------------------------------------------------------------------------
    async def dispatch(
        self,
        limit: int = 100,
        strategy: SchedulingStrategy | str | None = None,
        *,
        delivery: str | None = None,
    ) -> list[Assignment]:
        """Bind up to ``limit`` pending tasks to fitting live workers (push form).

        ``delivery="celery"``: only workers registered with delivery celery are considered,
        and each binding's Celery message is enqueued on the worker's queue atomically."""
        result: list[Assignment] = await self._run(
            operations.dispatch(self._ctx, self.policy, limit, strategy, delivery)
        )
        return result

    async def get_next_task(
        self, worker_id: str, strategy: SchedulingStrategy | str | None = None
    ) -> TaskInfo | None:
        """Bind and start the next task that fits ``worker_id`` (pull form), or None."""
        result: TaskInfo | None = await self._run(
            operations.get_next(self._ctx, self.policy, worker_id, strategy)
        )
        return result

    # -- transitions -----------------------------------------------------------------------
    async def is_current(self, task_id: str, attempt: int) -> bool:
        """True when the task is RUNNING at ``attempt`` (one read; see start_task for the
        fenced transition). Celery deliveries are started at bind time, so a worker only
        needs this check before running a message."""
        current: bool = await self._run(operations.is_current(self._ctx, task_id, attempt))
        return current

    async def start_task(self, task_id: str, attempt: int) -> TransitionResult:
        """Mark a push binding made without delivery as started, fenced by ``attempt``
        (idempotent; pull and Celery-delivered bindings are started at bind time)."""
        result: TransitionResult = await self._run(operations.start(self._ctx, task_id, attempt))
        return result

    async def complete_task(
        self,
        task_id: str,
        execution_time: float | None = None,
        result: Any = None,
        *,
        attempt: int | None = None,
    ) -> TransitionResult:
        op = operations.complete(self._ctx, task_id, execution_time, result, attempt)
        outcome: TransitionResult = await self._run(op)
        return outcome

    async def complete_and_dispatch(
        self,
        task_id: str,
        execution_time: float | None = None,
        result: Any = None,
        *,
        attempt: int | None = None,
        limit: int = 100,
        delivery: str | None = None,
    ) -> tuple[TransitionResult, list[Assignment]]:
        """complete_task plus dispatch in one round trip; returns both results."""
        request = operations.complete_request(self._ctx, task_id, execution_time, result, attempt)
        op = operations.then_dispatch(self._ctx, self.policy, request, limit, delivery)
        outcome: tuple[TransitionResult, list[Assignment]] = await self._run(op)
        return outcome

    async def fail_and_dispatch(
        self,
        task_id: str,
        error: Any,
        *,
        attempt: int | None = None,
        retry: bool = True,
        limit: int = 100,
        delivery: str | None = None,
    ) -> tuple[TransitionResult, list[Assignment]]:
        """fail_task plus dispatch in one round trip; returns both results."""
        request = operations.fail_request(self._ctx, task_id, error, attempt, retry)
        op = operations.then_dispatch(self._ctx, self.policy, request, limit, delivery)
        outcome: tuple[TransitionResult, list[Assignment]] = await self._run(op)
        return outcome

    async def timeout_and_dispatch(
        self,
        task_id: str,
        *,
        attempt: int | None = None,
        limit: int = 100,
        delivery: str | None = None,
    ) -> tuple[TransitionResult, list[Assignment]]:
        """timeout_task plus dispatch in one round trip; returns both results."""
        request = operations.timeout_request(self._ctx, task_id, attempt)
        op = operations.then_dispatch(self._ctx, self.policy, request, limit, delivery)
        outcome: tuple[TransitionResult, list[Assignment]] = await self._run(op)
        return outcome

    async def complete_tasks(self, items: Iterable[Any]) -> list[TransitionResult]:
        """Complete many in one round trip: ids, Assignments or (task_id, attempt) pairs."""
        result: list[TransitionResult] = await self._run(operations.complete_many(self._ctx, items))
        return result

    async def fail_task(
        self, task_id: str, error: Any, *, attempt: int | None = None, retry: bool = True
    ) -> TransitionResult:
        result: TransitionResult = await self._run(
            operations.fail(self._ctx, task_id, error, attempt, retry)
        )
        return result

    async def timeout_task(self, task_id: str, *, attempt: int | None = None) -> TransitionResult:
        result: TransitionResult = await self._run(operations.timeout(self._ctx, task_id, attempt))
        return result

    async def cancel_task(self, task_id: str) -> TransitionResult:
        result: TransitionResult = await self._run(operations.cancel(self._ctx, task_id))
        return result

    # -- reads -----------------------------------------------------------------------------
    async def get_task(self, task_id: str) -> TaskInfo | None:
        result: TaskInfo | None = await self._run(operations.get_task(self._ctx, task_id))
        return result

    async def list_tasks(
        self, status: TaskStatus | str | None = None, queue: str | None = None, limit: int = 100
    ) -> list[TaskInfo]:
        result: list[TaskInfo] = await self._run(
            operations.list_tasks(self._ctx, status, queue, limit)
        )
        return result

    async def wait_for_task(self, task_id: str, timeout: float) -> TaskInfo:
        """Return the task once terminal; TaskWaitTimeout after ``timeout`` seconds."""
        result: TaskInfo = await self._run(operations.wait_for_task(self._ctx, task_id, timeout))
        return result

    async def get_scheduler_stats(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._run(listing.stats(self._ctx))
        return result

    # -- workers ---------------------------------------------------------------------------
    async def register_worker(
        self,
        worker_id: str,
        capacity: int,
        *,
        weight: int = 1,
        queues: Sequence[str] = ("default",),
        task_types: Sequence[str] | None = None,
        resources: Mapping[str, str | int | float] | None = None,
        ttl: float | None = None,
        delivery: str = "none",
        incarnation: str = "",
    ) -> None:
        """Create or update a worker (inflight and resources in use are kept).

        ``delivery="celery"``: a push binding to this worker also enqueues the Celery message
        on the worker's own queue, in the same atomic step; "none": the caller hands
        assignments over itself. ``incarnation``: a token of the registering process that
        each Celery message carries (see workers.task)."""
        await self._run(
            worker_ops.register(
                self._ctx, worker_id=worker_id, capacity=capacity, weight=weight, queues=queues,
                task_types=task_types, resources=resources, ttl=ttl, delivery=delivery, incarnation=incarnation,
            )
        )  # fmt: skip

    async def worker_heartbeat(
        self, worker_id: str, *, load: float | None = None, ttl: float | None = None
    ) -> int:
        """Renew the worker and its leases; NotFoundError if it must register again."""
        result: int = await self._run(worker_ops.heartbeat(self._ctx, worker_id, load, ttl))
        return result

    async def renew_leases(self, worker_id: str) -> int:
        result: int = await self._run(
            worker_ops.heartbeat(self._ctx, worker_id, None, None, mode="leases")
        )
        return result

    async def set_worker_draining(self, worker_id: str, draining: bool = True) -> None:
        await self._run(worker_ops.set_draining(self._ctx, worker_id, draining))

    async def deregister_worker(self, worker_id: str) -> list[str]:
        """Remove the worker; its RUNNING tasks go back to their queues at once."""
        result: list[str] = await self._run(worker_ops.deregister(self._ctx, worker_id))
        return result

    async def list_workers(self) -> list[WorkerInfo]:
        result: list[WorkerInfo] = await self._run(worker_ops.read_workers(self._ctx))
        return result

    # -- sweeps (idempotent; beat calls them) ---------------------------------------------
    async def requeue_expired_leases(self) -> list[str]:
        result: list[str] = await self._run(operations.requeue_expired(self._ctx))
        return result

    async def timeout_overdue_tasks(self) -> list[str]:
        result: list[str] = await self._run(operations.sweep(self._ctx, "timeout_overdue"))
        return result

    async def promote_delayed_tasks(self) -> int:
        result: list[str] = await self._run(operations.sweep(self._ctx, "promote"))
        return len(result)
