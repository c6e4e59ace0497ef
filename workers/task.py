"""The task base class: users write ordinary Celery tasks; this reports them to the scheduler.

A message enqueued by the binding script carries the scheduler's task id, attempt and the
worker incarnation it was bound to; the binding also started the task. A message from an
earlier incarnation is run only if its attempt is still current (one read); afterwards success, failure, retry and timeout update the task record (fenced by
attempt), free the worker's slot and dispatch the next task in the same round trip. A message
without our headers (a plain ``apply_async``) runs as ordinary Celery.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from typing import Any

from celery import Task
from celery.exceptions import Ignore, SoftTimeLimitExceeded

from workers.context import context
from workers.dispatcher import (
    ATTEMPT_HEADER,
    DELIVERY,
    INCARNATION_ENV,
    INCARNATION_HEADER,
    TASK_ID_HEADER,
    Dispatcher,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Scheduled:
    task_id: str
    attempt: int
    incarnation: str = ""


def scheduled_of(request: Any) -> Scheduled | None:
    headers = getattr(request, "headers", None) or {}
    task_id = headers.get(TASK_ID_HEADER) or getattr(request, TASK_ID_HEADER, None)
    attempt = headers.get(ATTEMPT_HEADER) or getattr(request, ATTEMPT_HEADER, None)
    if not task_id or attempt is None:
        return None
    incarnation = headers.get(INCARNATION_HEADER) or getattr(request, INCARNATION_HEADER, "")
    return Scheduled(str(task_id), int(attempt), str(incarnation or ""))


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
        # of this worker (restored by kombu, or left by a predecessor under the same name)
        # may be stale: only those are checked, with one read, and skipped unless current.
        if scheduled.incarnation != os.environ.get(INCARNATION_ENV) and not scheduler.is_current(
            scheduled.task_id, scheduled.attempt
        ):
            log.info("skipping stale %s attempt %s", scheduled.task_id, scheduled.attempt)
            raise Ignore()
        began = time.perf_counter()
        try:
            result = super().__call__(*args, **kwargs)
        except Ignore:
            raise
        except SoftTimeLimitExceeded:
            scheduler.timeout_task(scheduled.task_id, attempt=scheduled.attempt)
            self._dispatch_next()
            raise
        except Exception as exc:
            scheduler.fail_task(
                scheduled.task_id, f"{type(exc).__name__}: {exc}", attempt=scheduled.attempt
            )
            self._dispatch_next()
            raise
        # Completing and refilling the freed slot (bind + enqueue) is one round trip.
        scheduler.complete_and_dispatch(
            scheduled.task_id,
            execution_time=time.perf_counter() - began,
            result=jsonable(result),
            attempt=scheduled.attempt,
            delivery=DELIVERY,
        )
        return result

    def retry(self, *args: Any, exc: BaseException | None = None, **kwargs: Any) -> Any:
        """Under the scheduler, a retry goes through our delayed set (backoff, max_retries),
        never through Celery's own ETA path; elsewhere it is Celery's retry."""
        scheduled = scheduled_of(self.request)
        if scheduled is None:
            return super().retry(*args, exc=exc, **kwargs)
        error = f"{type(exc).__name__}: {exc}" if exc else "retry requested"
        context().scheduler.fail_task(
            scheduled.task_id, error, attempt=scheduled.attempt, retry=True
        )
        self._dispatch_next()
        raise Ignore()

    def _dispatch_next(self) -> None:
        try:
            Dispatcher(self.app, context()).dispatch_once()
        except Exception:  # the worker's dispatcher loop and beat are the safety net
            log.exception("dispatch after task end failed")
