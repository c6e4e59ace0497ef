"""Helpers for the resource pool tests (no tests here): one async face over sync and asyncio pools."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from coordination.keys import Keys
from coordination.redis_client import CoordRedis


class AwaitableSyncPool:
    """Wraps a sync ResourcePool so the same ``await pool.x(...)`` tests run against it."""

    def __init__(self, pool: Any):
        self._pool = pool

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        method = getattr(self._pool, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            return method(*args, **kwargs)

        return call


def snapshot(client: CoordRedis, keys: Keys) -> dict[str, Any]:
    """Every key of the test's namespace with its content (to prove nothing was written)."""
    readers: dict[str, Callable[[str], Any]] = {
        "hash": client.hgetall,
        "zset": lambda k: client.zrange(k, 0, -1, withscores=True),
        "string": client.get,
    }
    return {k: readers[client.type(k)](k) for k in client.scan_iter(match=keys.pattern)}


async def poll(check: Callable[[], Awaitable[Any]], timeout: float = 10.0) -> Any:
    """Await ``check()`` until it returns something truthy, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last: {result!r})")
        await asyncio.sleep(0.02)
