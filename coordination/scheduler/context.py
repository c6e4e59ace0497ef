"""What every operation needs besides I/O: settings, key names, the scripts' fixed KEYS."""

from __future__ import annotations

from typing import Any

from coordination.config import Settings
from coordination.keys import Keys
from coordination.scheduler.io import Script

NOTIFY_TTL_MS = 60_000  # a finished task's wake-up token lives this long


class Context:
    """Settings, key names and the fixed KEYS lists of the scripts."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.cfg = settings.scheduler
        self.keys = Keys(settings.redis.key_prefix).scheduler
        # Wakes the worker-side dispatchers (submit) and revokes cancelled runs (cancel).
        self.events_channel = Keys(settings.redis.key_prefix).celery.events_channel
        k = self.keys
        self.submit_keys = [
            k.task_base(), k.queue_priority_base(), k.queue_fifo_base(), k.delayed(),
            k.stats(), k.sequence(), k.queues(), k.idempotency_base(),
        ]  # fmt: skip
        self.bind_keys = [
            k.task_base(), k.queue_priority_base(), k.queue_fifo_base(), k.worker_base(),
            k.worker_tasks_base(), k.workers(), k.worker_names(), k.leases(), k.unstarted(),
            k.deadlines(), k.stats(), k.round_robin(),
            Keys(settings.redis.key_prefix).celery.worker_queue_base,
        ]  # fmt: skip
        self.life_keys = [
            k.task_base(), k.queue_priority_base(), k.queue_fifo_base(), k.worker_base(),
            k.worker_tasks_base(), k.leases(), k.unstarted(), k.deadlines(), k.delayed(),
            k.stats(), k.terminal_index_base(), k.notify_base(), k.sequence(), k.workers(),
            k.worker_names(), k.queues(), k.waiting_base(),
            Keys(settings.redis.key_prefix).celery.worker_queue_base,
        ]  # fmt: skip
        self.task_ttl_ms = int(self.cfg.task_ttl * 1000)
        self.worker_ttl_ms = int(self.cfg.worker_ttl * 1000)
        self.lease_ms: int | str = int(self.cfg.lease_ttl * 1000) if self.cfg.lease_ttl else ""
        self.start_ms = int(self.cfg.start_timeout * 1000)

    def life(self, op: str, *args: Any) -> Script:
        return Script(
            "task_lifecycle", self.life_keys, [op, self.task_ttl_ms, NOTIFY_TTL_MS, *args]
        )

    def bind(self, mode: str, order: str, choice: str, limit: int, worker: str = "",
             task: str = "", extra: str | int = "", deliver: str = "") -> Script:  # fmt: skip
        args = [mode, order, choice, limit, self.cfg.max_concurrent_tasks, self.lease_ms,
                self.start_ms, self.cfg.dispatch_scan_limit, worker, task, extra, deliver,
                self.settings.celery.timeout_grace, "coordination"]  # fmt: skip
        return Script("task_bind", self.bind_keys, args)
