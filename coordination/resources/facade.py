"""What an asyncio facade over one named pool needs: the settings, a client it owns unless one
was given, and the pool. ResourceAllocator (tasks) and ResourceManager (containers) build on it."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from coordination.config import Settings
from coordination.keys import Keys
from coordination.redis_client import AsyncCoordRedis, async_client
from coordination.resources.pool import AsyncResourcePool


class PoolFacade:
    def __init__(
        self,
        pool_name: str,
        settings: Settings | None = None,
        *,
        client: AsyncCoordRedis | None = None,
    ):
        self.settings = settings or Settings.load()
        self._owns_client = client is None
        self.client = client or async_client(self.settings)
        self.pool = AsyncResourcePool(self.client, Keys(self.settings.redis.key_prefix), pool_name)

    async def close(self) -> None:
        """Close the client if this facade opened it (a given client stays the caller's)."""
        if self._owns_client:
            await self.client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
