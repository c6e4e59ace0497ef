"""Helpers for the resource pool tests (no tests here): one async face over sync and asyncio pools."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from coordination.keys import Keys
from coordination.redis_client import CoordRedis
from tests.polling import await_for


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


poll = await_for  # the shared deadline poll (tests.polling)
