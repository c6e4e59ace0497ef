"""The shared atomic resource pool: a sync and an asyncio face over the same operations.

Every allocate, release and reclaim is one Lua script on normalized integers, so concurrent
callers (threads, tasks, processes, hosts) can never over-commit a pool. Waiting requests are
granted highest priority first, FIFO within a priority, with backfill: a waiter that does not
fit is skipped and smaller ones behind it are granted (a steady stream of small requests can
therefore delay a big one; give it room by releasing, or ask for less).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from coordination.keys import Keys
from coordination.quantity import Quantity
from coordination.redis_client import AsyncCoordRedis, CoordRedis
from coordination.resources.models import (
    Allocation,
    AllocationResult,
    PoolStatus,
    ReclaimResult,
    ReleaseResult,
)
from coordination.resources.ops import Op, PoolOps
from coordination.scripts import Scripts

T = TypeVar("T")


class AsyncResourcePool:
    """A named pool (``"scheduler"``, ``"containers"``) of capacity held in Redis (asyncio)."""

    def __init__(self, client: AsyncCoordRedis, keys: Keys, name: str):
        self._ops = PoolOps(keys, name)
        self._scripts = Scripts(client)
        self.name = name

    async def _run(self, op: Op[T]) -> T:
        return op.parse(await self._scripts.acall(op.script, op.keys, op.args))

    async def initialize(self, capacity: Mapping[str, Quantity]) -> dict[str, int]:
        """Set or resize the total capacity (normalized); existing allocations are kept.

        Waiters that fit the new capacity are granted right after, in priority order.
        """
        total = await self._run(self._ops.resize(capacity))
        await self._run(self._ops.grant())
        return total

    async def allocate(
        self,
        request_id: str,
        resources: Mapping[str, Quantity],
        *,
        priority: int = 0,
        wait: bool = False,
        ttl: float | None = None,
    ) -> AllocationResult:
        """Grant now if it fits; else queue it (``wait=True``) or refuse it. See PoolOps."""
        return await self._run(self._ops.allocate(request_id, resources, priority, wait, ttl))

    async def release(self, request_id: str) -> ReleaseResult:
        return await self._run(self._ops.release(request_id))

    async def renew(self, request_id: str, ttl: float) -> bool:
        return await self._run(self._ops.renew(request_id, ttl))

    async def get_allocation(self, request_id: str) -> Allocation | None:
        return await self._run(self._ops.get(request_id))

    async def status(self) -> PoolStatus:
        return await self._run(self._ops.status())

    async def reclaim(self) -> ReclaimResult:
        """Release expired allocations (up to a batch), then grant waiters that now fit."""
        return await self._run(self._ops.reclaim())


class ResourcePool:
    """The same pool, sync."""

    def __init__(self, client: CoordRedis, keys: Keys, name: str):
        self._ops = PoolOps(keys, name)
        self._scripts = Scripts(client)
        self.name = name

    def _run(self, op: Op[T]) -> T:
        return op.parse(self._scripts.call(op.script, op.keys, op.args))

    def initialize(self, capacity: Mapping[str, Quantity]) -> dict[str, int]:
        total = self._run(self._ops.resize(capacity))
        self._run(self._ops.grant())
        return total

    def allocate(
        self,
        request_id: str,
        resources: Mapping[str, Quantity],
        *,
        priority: int = 0,
        wait: bool = False,
        ttl: float | None = None,
    ) -> AllocationResult:
        return self._run(self._ops.allocate(request_id, resources, priority, wait, ttl))

    def release(self, request_id: str) -> ReleaseResult:
        return self._run(self._ops.release(request_id))

    def renew(self, request_id: str, ttl: float) -> bool:
        return self._run(self._ops.renew(request_id, ttl))

    def get_allocation(self, request_id: str) -> Allocation | None:
        return self._run(self._ops.get(request_id))

    def status(self) -> PoolStatus:
        return self._run(self._ops.status())

    def reclaim(self) -> ReclaimResult:
        return self._run(self._ops.reclaim())
