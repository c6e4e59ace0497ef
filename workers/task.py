"""The task base class: users write ordinary Celery tasks; this reports them to the scheduler.

A message enqueued by the binding script carries the scheduler's task id, attempt and the
worker incarnation it was bound to; the binding also started the task. A message from an
earlier incarnation, or one kombu redelivered (restored after a lost connection), runs only
if its attempt is still current (one read). Afterwards success, failure, retry and timeout
update the task record (fenced by attempt), free the worker's slot and dispatch the next
task, each outcome in one round trip. Reports are retried through a Redis outage: a lost report would
leave the task RUNNING behind a live worker's heartbeats. A message without our headers (a
plain ``apply_async``) runs as ordinary Celery.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from celery import Task
from celery.exceptions import Ignore, SoftTimeLimitExceeded

from coordination.errors import RedisUnavailableError
from workers.context import context
from workers.dispatcher import (
    ATTEMPT_HEADER,
    DELIVERY,
    INCARNATION_ENV,
    INCARNATION_HEADER,
    TASK_ID_HEADER,
)

log = logging.getLogger(__name__)
T = TypeVar("T")


REPORT_RETRY_SECONDS = 300.0  # how long a finished task keeps trying to report through an outage


@dataclass(frozen=True)
class Scheduled:
    task_id: str
    attempt: int
    incarnation: str = ""
    redelivered: bool = False

    def needs_check(self) -> bool:
        """Only a foreign or redelivered message can be stale: fresh ones skip the read."""
        return self.redelivered or self.incarnation != os.environ.get(INCARNATION_ENV)


def scheduled_of(request: Any) -> Scheduled | None:
    headers = getattr(request, "headers", None) or {}
    task_id = headers.get(TASK_ID_HEADER) or getattr(request, TASK_ID_HEADER, None)
    attempt = headers.get(ATTEMPT_HEADER) or getattr(request, ATTEMPT_HEADER, None)
    if not task_id or attempt is None:
        return None
    incarnation = headers.get(INCARNATION_HEADER) or getattr(request, INCARNATION_HEADER, "")
    delivery_info = getattr(request, "delivery_info", None) or {}
    redelivered = bool(headers.get("redelivered") or delivery_info.get("redelivered"))
    return Scheduled(str(task_id), int(attempt), str(incarnation or ""), redelivered)


def report(call: Callable[[], T]) -> T:
    """Run a report to the scheduler, retrying while Redis is unreachable (reports are fenced
    by attempt, so a retry after a lost reply is refused harmlessly)."""
    deadline = time.monotonic() + REPORT_RETRY_SECONDS
    delay = 0.05
    while True:
        try:
            return call()
        except RedisUnavailableError:
            if time.monotonic() > deadline:
                raise
            log.warning("Redis unreachable; retrying the task report in %.2f s", delay)
            time.sleep(delay)
            delay = min(delay * 2, 2.0)


def jsonable(value: Any) -> Any:
    """Results are stored as JSON; anything else is kept as its repr."""
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
    return value


class CoordTask(Task):  # type: ignore[misc]
    """Base class of every task of the coordination app (``app.task`` uses it)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        scheduled = scheduled_of(self.request)
        if scheduled is None:
            return super().__call__(*args, **kwargs)
        scheduler = context().scheduler
        # Delivery started the task at bind time. A message bound to an earlier incarnation
        # of this worker, or redelivered by kombu, may be stale: only those are checked.
        if scheduled.needs_check() and not report(
            lambda: scheduler.is_current(scheduled.task_id, scheduled.attempt)
        ):
            log.info("skipping stale %s attempt %s", scheduled.task_id, scheduled.attempt)
            raise Ignore()
        began = time.perf_counter()
        try:
            result = super().__call__(*args, **kwargs)
        except Ignore:
            raise
        except SoftTimeLimitExceeded:
            report(
                lambda: scheduler.timeout_and_dispatch(
                    scheduled.task_id, attempt=scheduled.attempt, delivery=DELIVERY
                )
            )
            raise
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            report(
                lambda: scheduler.fail_and_dispatch(
                    scheduled.task_id, error, attempt=scheduled.attempt, delivery=DELIVERY
                )
            )
            raise
        # Every outcome and the refill of the freed slot (bind + enqueue) is one round trip.
        elapsed = time.perf_counter() - began
        report(
            lambda: scheduler.complete_and_dispatch(
                scheduled.task_id,
                execution_time=elapsed,
                result=jsonable(result),
                attempt=scheduled.attempt,
                delivery=DELIVERY,
            )
        )
        return result

    def retry(self, *args: Any, exc: BaseException | None = None, **kwargs: Any) -> Any:
        """Under the scheduler, a retry goes through our delayed set (backoff, max_retries),
        never through Celery's own ETA path; elsewhere it is Celery's retry."""
        scheduled = scheduled_of(self.request)
        if scheduled is None:
            return super().retry(*args, exc=exc, **kwargs)
        error = f"{type(exc).__name__}: {exc}" if exc else "retry requested"
        scheduler = context().scheduler
        report(
            lambda: scheduler.fail_and_dispatch(
                scheduled.task_id, error, attempt=scheduled.attempt, retry=True, delivery=DELIVERY
            )
        )
        raise Ignore()
