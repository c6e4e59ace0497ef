"""ResourceManager: host capacity for containers, on the shared atomic resource pool.

It is the pool named "containers" (the scheduler's ResourceAllocator uses the same core with
its own pool), so concurrent creates from any number of processes never over-commit it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from coordination.config import Settings
from coordination.container.models import ResourceLimits
from coordination.errors import InvalidInputError
from coordination.quantity import Quantity, format_quantity
from coordination.redis_client import AsyncCoordRedis
from coordination.resources import Allocation, AllocationResult, PoolStatus
from coordination.resources.facade import PoolFacade

POOL_NAME = "containers"


def as_quantities(limits: ResourceLimits | Mapping[str, Quantity]) -> Mapping[str, Quantity]:
    if isinstance(limits, ResourceLimits):
        return limits.to_resources()
    if isinstance(limits, Mapping):
        return limits
    raise InvalidInputError("limits", f"must be ResourceLimits or a mapping, got {limits!r}")


def describe(amounts: Mapping[str, int]) -> str:
    return ", ".join(f"{name}={format_quantity(name, v)}" for name, v in sorted(amounts.items()))


class ResourceManager(PoolFacade):
    """Capacity (cpu, memory, gpu, custom) that containers draw from while they exist."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        client: AsyncCoordRedis | None = None,
        pool_name: str = POOL_NAME,
    ):
        super().__init__(pool_name, settings, client=client)

    async def initialize(
        self, capacity: Mapping[str, Quantity] | None = None, *, keep_existing: bool = False
    ) -> dict[str, int]:
        """Set the capacity (default: ``container.resource_limits``); allocations are kept.

        ``keep_existing=True`` leaves a capacity someone already set alone (what managers do
        at start-up, so they never undo an explicit ``initialize``).
        """
        if keep_existing:
            current = (await self.pool.status()).capacity
            if any(current.values()):
                return current
        return await self.pool.initialize(capacity or self.settings.container.resource_limits)

    async def allocate_resources(
        self, request_id: str, limits: ResourceLimits | Mapping[str, Quantity]
    ) -> bool:
        """Hold ``limits`` for ``request_id`` if they fit now. CapacityError if they never can."""
        result = await self.allocate(request_id, limits)
        return result.granted

    async def allocate(
        self, request_id: str, limits: ResourceLimits | Mapping[str, Quantity]
    ) -> AllocationResult:
        return await self.pool.allocate(request_id, as_quantities(limits))

    async def release_resources(self, request_id: str) -> bool:
        """Give back what ``request_id`` holds; False when it held nothing."""
        return (await self.pool.release(request_id)).released

    async def get_allocation(self, request_id: str) -> Allocation | None:
        return await self.pool.get_allocation(request_id)

    async def status(self) -> PoolStatus:
        return await self.pool.status()

    async def get_resource_status(self) -> dict[str, Any]:
        """Capacity, allocated, available (normalized: milli-cpu, bytes) and utilization."""
        status = await self.pool.status()
        data = status.model_dump()
        data["human"] = {
            "capacity": describe(status.capacity),
            "allocated": describe(status.allocated),
            "available": describe(status.available),
        }
        return data
