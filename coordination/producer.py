"""Submitting from any Python code (web handlers, scripts) and waiting for the result.

No Celery result backend is involved: results and errors are kept in the task's record, and
waiting blocks on a per-task notification in Redis.

    from coordination.producer import Producer

    producer = Producer()                      # Settings.load(): env, COORD_CONFIG, defaults
    task_id = producer.submit("myproject.resize", args=["/tmp/a.png"], priority=5)
    print(producer.result(task_id, timeout=30))  # the task's return value, or raises TaskFailed
"""

from __future__ import annotations

from typing import Any

from coordination.config import Settings
from coordination.enums import TaskStatus
from coordination.errors import CoordinationError
from coordination.scheduler import SyncTaskScheduler, TaskInfo


class TaskFailed(CoordinationError):
    """The task ended without success (FAILED, TIMEOUT or CANCELLED); ``info`` has the record."""

    def __init__(self, info: TaskInfo):
        self.info = info
        super().__init__(
            f"task {info.task_id} ended {info.status.value}: {info.error or ''}".rstrip(": ")
        )


class Producer:
    """A thin sync front to the scheduler for code that only submits and waits."""

    def __init__(self, settings: Settings | None = None):
        self.scheduler = SyncTaskScheduler(settings or Settings.load())

    def submit(self, task_name: str, **options: Any) -> str:
        """Submit ``task_name`` (a Celery task name) with submit_task's options; returns its id."""
        return self.scheduler.submit_task(task_name=task_name, **options)

    def wait(self, task_id: str, timeout: float) -> TaskInfo:
        """The task's record once it is terminal (raises TaskWaitTimeout after ``timeout``)."""
        return self.scheduler.wait_for_task(task_id, timeout)

    def result(self, task_id: str, timeout: float) -> Any:
        """The task's return value; TaskFailed if it did not complete."""
        info = self.wait(task_id, timeout)
        if info.status is not TaskStatus.COMPLETED:
            raise TaskFailed(info)
        return info.result

    def run(self, task_name: str, timeout: float, **options: Any) -> Any:
        """Submit and wait: the synchronous call."""
        return self.result(self.submit(task_name, **options), timeout)
