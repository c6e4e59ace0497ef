"""Binds pending tasks to Celery workers and hands each to its worker's own queue.

Both happen in one atomic script (task_bind.lua with delivery "celery"): the binding and the
Celery message on the worker's queue appear together or not at all, so any number of
dispatchers may run at once and a crash can never leave a task bound but undelivered.
"""

from __future__ import annotations

from celery import Celery

from workers.context import WorkerContext

TASK_ID_HEADER = "coord_task_id"
ATTEMPT_HEADER = "coord_attempt"
INCARNATION_HEADER = "coord_inc"
# The worker process's incarnation token, set in the main process before the pool forks so
# every child inherits it (deliberately outside the COORD_ settings namespace).
INCARNATION_ENV = "COORDINATION_WORKER_INCARNATION"
DELIVERY = "celery"


class Dispatcher:
    def __init__(self, app: Celery, ctx: WorkerContext):
        self.app = app
        self.ctx = ctx

    def dispatch_once(self, limit: int = 200) -> int:
        """Bind and deliver until no fitting task or free slot is left; returns the count."""
        total = 0
        while True:
            bound = len(self.ctx.scheduler.dispatch(limit=limit, delivery=DELIVERY))
            total += bound
            if bound < limit:
                return total
