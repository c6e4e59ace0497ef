"""The one atomic allocate/release core shared by ResourceAllocator and ResourceManager.

A pool is named and keeps its state in Redis (keys from ``Keys.resources``); quantities are
parsed by ``coordination.quantity`` (cpu/gpu/custom -> milli-units, memory -> bytes).
"""

from coordination.resources.models import (
    Allocation,
    AllocationResult,
    PoolStatus,
    ReclaimResult,
    ReleaseResult,
)
from coordination.resources.pool import AsyncResourcePool, ResourcePool

__all__ = [
    "Allocation",
    "AllocationResult",
    "AsyncResourcePool",
    "PoolStatus",
    "ReclaimResult",
    "ReleaseResult",
    "ResourcePool",
]
