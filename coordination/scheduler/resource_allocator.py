"""ResourceAllocator: cluster resources for tasks, with priority waiting (the seed's API).

A thin asyncio facade over the shared pool core (``coordination.resources``) on the pool named
``"scheduler"``: every request, release and reclaim is one atomic Lua script, so allocators in
many processes share one consistent pool and can never over-commit it.

``request_resources`` returns an AllocationResult that is truthy exactly when the request was
granted, so the seed's ``success = await allocator.request_resources(...)`` reads naturally;
``result.waiting`` says it was queued and will be granted on a later release (highest priority
first, FIFO within a priority, smaller requests backfilled past a big one that does not fit).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from coordination.config import Settings
from coordination.quantity import Quantity, format_quantity
from coordination.redis_client import AsyncCoordRedis
from coordination.resources import AllocationResult, PoolStatus
from coordination.resources.facade import PoolFacade

POOL_NAME = "scheduler"


class ResourceAllocator(PoolFacade):
    """Allocates the ``"scheduler"`` pool's capacity (cpu, memory, gpu, custom) to requests."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        client: AsyncCoordRedis | None = None,
        pool_name: str = POOL_NAME,
    ):
        super().__init__(pool_name, settings, client=client)

    async def initialize(self, capacity: Mapping[str, Quantity]) -> dict[str, int]:
        """Set (or resize) total capacity, e.g. ``{"cpu": 16, "memory": "32Gi", "gpu": 4}``."""
        return await self.pool.initialize(capacity)

    async def request_resources(
        self,
        request_id: str,
        resources: Mapping[str, Quantity],
        priority: int = 0,
        *,
        wait: bool = True,
        ttl: float | None = None,
    ) -> AllocationResult:
        """Granted now (truthy), or waiting by priority (``.waiting``, ``.position``).

        ``wait=False`` refuses instead of queueing. ``ttl`` (seconds) lets an allocation whose
        holder stopped renewing be reclaimed by ``optimize_allocations``. CapacityError when the
        request exceeds the total capacity; InvalidInputError (``resources.cpu`` ...) on bad input.
        """
        return await self.pool.allocate(
            request_id, resources, priority=priority, wait=wait, ttl=ttl
        )

    async def release_resources(self, request_id: str) -> bool:
        """Free a granted request (or withdraw a waiting one); False when the id is unknown."""
        return (await self.pool.release(request_id)).released

    async def renew(self, request_id: str, ttl: float) -> bool:
        """Push a ttl'd allocation's expiry to now + ttl seconds."""
        return await self.pool.renew(request_id, ttl)

    async def get_resource_status(self) -> dict[str, Any]:
        """Raw normalized figures (as PoolStatus) plus a per-resource view in human units."""
        status = await self.pool.status()
        return {"pool": self.pool.name, **status.model_dump(), "resources": _human(status)}

    async def optimize_allocations(self) -> dict[str, Any]:
        """Reclaim expired allocations and grant waiters that now fit; report what was done."""
        result = await self.pool.reclaim()
        return {
            "optimizations_applied": len(result.reclaimed) + len(result.granted),
            "reclaimed": result.reclaimed,
            "granted": result.granted,
        }


def _human(status: PoolStatus) -> dict[str, dict[str, Any]]:
    return {
        name: {
            "capacity": format_quantity(name, status.capacity[name]),
            "allocated": format_quantity(name, status.allocated[name]),
            "available": format_quantity(name, status.available[name]),
            "utilization": status.utilization[name],
        }
        for name in status.capacity
    }
