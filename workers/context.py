"""Per-process clients for the worker side.

Under the prefork pool, task code runs in child processes; a client created in the parent
must never be used after fork. ``context()`` keys the clients by pid, so each process opens
its own connections the first time it needs them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property

from coordination.config import Settings
from coordination.keys import Keys
from coordination.redis_client import CoordRedis, sync_client
from coordination.registry import SyncServiceRegistry
from coordination.scheduler import SyncTaskScheduler


@dataclass
class WorkerContext:
    settings: Settings

    @cached_property
    def keys(self) -> Keys:
        return Keys(self.settings.redis.key_prefix)

    @cached_property
    def redis(self) -> CoordRedis:
        return sync_client(self.settings)

    @cached_property
    def scheduler(self) -> SyncTaskScheduler:
        return SyncTaskScheduler(self.settings)

    @cached_property
    def registry(self) -> SyncServiceRegistry:
        return SyncServiceRegistry(self.settings)


_contexts: dict[int, WorkerContext] = {}


def context() -> WorkerContext:
    pid = os.getpid()
    ctx = _contexts.get(pid)
    if ctx is None:
        _contexts.clear()  # anything here was inherited through fork: never reuse its sockets
        ctx = _contexts[pid] = WorkerContext(Settings.load())
    return ctx
