"""Binds pending tasks to workers (one atomic script) and hands each to its worker's queue.

Safe from any number of processes at once: binding happens in Redis, and a crash between
binding and publishing only delays the task (the binding's start deadline expires and the
lease sweep requeues it).
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery

from coordination.scheduler import Assignment
from workers.context import WorkerContext

log = logging.getLogger(__name__)

TASK_ID_HEADER = "coord_task_id"
ATTEMPT_HEADER = "coord_attempt"


class Dispatcher:
    def __init__(self, app: Celery, ctx: WorkerContext):
        self.app = app
        self.ctx = ctx

    def dispatch_once(self, limit: int = 200) -> int:
        """Bind and publish until no fitting task or free slot is left; returns the count."""
        total = 0
        while True:
            assignments = self.ctx.scheduler.dispatch(limit=limit)
            if assignments:
                self.publish(assignments)
                total += len(assignments)
            if len(assignments) < limit:
                return total

    def publish(self, assignments: list[Assignment]) -> None:
        with self.app.producer_or_acquire() as producer:
            for assignment in assignments:
                self.app.send_task(
                    assignment.task_name,
                    args=assignment.args,
                    kwargs=assignment.kwargs,
                    task_id=assignment.task_id,
                    producer=producer,
                    **self.message_options(assignment),
                )

    def message_options(self, assignment: Assignment) -> dict[str, Any]:
        queue = self.ctx.keys.celery.worker_queue(assignment.worker_id)
        options: dict[str, Any] = {
            "queue": queue,
            "routing_key": queue,
            "headers": {TASK_ID_HEADER: assignment.task_id, ATTEMPT_HEADER: assignment.attempt},
        }
        if assignment.timeout:
            # Soft limit = the task's timeout (ends as TIMEOUT); hard limit a grace later.
            options["soft_time_limit"] = assignment.timeout
            options["time_limit"] = assignment.timeout + self.ctx.settings.celery.timeout_grace
        return options
