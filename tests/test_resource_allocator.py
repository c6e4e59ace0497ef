"""ResourceAllocator (the seed's API) on a real Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from coordination.config import Settings
from coordination.errors import CapacityError, InvalidInputError
from coordination.keys import Keys
from coordination.redis_client import CoordRedis
from coordination.scheduler.resource_allocator import ResourceAllocator
from tests.redis_server import RedisServer
from tests.test_resource_pool_support import poll, snapshot


@pytest.fixture
async def allocator(
    settings: Settings, redis_client: CoordRedis
) -> AsyncIterator[ResourceAllocator]:
    allocator = ResourceAllocator(settings)
    yield allocator
    await allocator.close()


async def test_seed_example_runs_as_written(
    monkeypatch: pytest.MonkeyPatch,
    redis_server: RedisServer,
    namespace: str,
    redis_client: CoordRedis,
) -> None:
    monkeypatch.setenv("COORD_REDIS__URL", redis_server.url)
    monkeypatch.setenv("COORD_REDIS__KEY_PREFIX", namespace)

    # --- the seed, verbatim but for the import path ---
    allocator = ResourceAllocator()
    await allocator.initialize({"cpu": 16, "memory": 32 * 1024 * 1024 * 1024, "gpu": 4})  # 32GB
    success = await allocator.request_resources(
        request_id="req_001", resources={"cpu": 4, "memory": 8 * 1024 * 1024 * 1024}, priority=10
    )
    await allocator.release_resources("req_001")
    status = await allocator.get_resource_status()
    optimization_results = await allocator.optimize_allocations()
    print(f"优化应用次数: {optimization_results['optimizations_applied']}")
    # ---
    assert success
    assert status["allocated"] == {"cpu": 0, "gpu": 0, "memory": 0}
    assert status["capacity"] == {"cpu": 16000, "gpu": 4000, "memory": 32 * 2**30}
    assert status["resources"]["memory"]["capacity"] == "32Gi"
    assert optimization_results["optimizations_applied"] == 0
    assert redis_client.hgetall(Keys(namespace).resources.capacity("scheduler"))  # env was used
    await allocator.close()


async def test_status_in_raw_and_human_units(allocator: ResourceAllocator) -> None:
    await allocator.initialize({"cpu": 16, "memory": "32Gi", "gpu": 4})
    assert await allocator.request_resources("a", {"cpu": "1500m", "memory": "8Gi", "gpu": 1})
    status = await allocator.get_resource_status()
    assert status["pool"] == "scheduler"
    assert status["allocated"] == {"cpu": 1500, "gpu": 1000, "memory": 8 * 2**30}
    assert status["available"]["cpu"] == 14500
    assert status["utilization"] == {"cpu": 0.09375, "gpu": 0.25, "memory": 0.25}
    assert status["resources"]["cpu"] == {
        "capacity": "16",
        "allocated": "1500m",
        "available": "14500m",
        "utilization": 0.09375,
    }
    assert status["resources"]["memory"]["available"] == "24Gi"
    assert (status["allocations"], status["waiting"]) == (1, 0)


async def test_waiting_request_is_falsy_then_granted_on_release(
    allocator: ResourceAllocator,
) -> None:
    await allocator.initialize({"cpu": 4})
    assert await allocator.request_resources("a", {"cpu": 4})
    waiting = await allocator.request_resources("b", {"cpu": 2}, priority=1)
    assert not waiting and waiting.waiting and waiting.position == 1
    refused = await allocator.request_resources("c", {"cpu": 2}, wait=False)
    assert not refused and not refused.waiting
    assert await allocator.release_resources("a") is True
    assert (await allocator.pool.get_allocation("b")).status == "granted"  # type: ignore[union-attr]
    assert await allocator.release_resources("a") is False


async def test_impossible_and_invalid_requests(
    allocator: ResourceAllocator, redis_client: CoordRedis, keys: Keys
) -> None:
    await allocator.initialize({"cpu": 16, "gpu": 4})
    before = snapshot(redis_client, keys)
    with pytest.raises(CapacityError, match="gpu 5 exceeds the total capacity 4"):
        await allocator.request_resources("x", {"gpu": 5})
    with pytest.raises(InvalidInputError) as info:
        await allocator.request_resources("x", {"cpu": "-500m"})
    assert info.value.field == "resources.cpu"
    with pytest.raises(InvalidInputError) as info:
        await allocator.initialize({"cpu": "4 cores"})
    assert info.value.field == "capacity.cpu"
    assert snapshot(redis_client, keys) == before


async def test_optimize_reclaims_expired_and_grants_waiters(allocator: ResourceAllocator) -> None:
    await allocator.initialize({"cpu": 2})
    assert await allocator.request_resources("leaked", {"cpu": 2}, ttl=0.2)
    assert (await allocator.request_resources("w1", {"cpu": 1}, priority=5)).waiting
    assert (await allocator.request_resources("w2", {"cpu": 1})).waiting

    async def optimized() -> dict[str, object] | None:
        result = await allocator.optimize_allocations()
        return result if result["optimizations_applied"] else None

    result = await poll(optimized)
    assert result == {"optimizations_applied": 3, "reclaimed": ["leaked"], "granted": ["w1", "w2"]}
    assert (await allocator.optimize_allocations())["optimizations_applied"] == 0


async def test_renew_and_shared_pool_across_allocators(
    allocator: ResourceAllocator, settings: Settings
) -> None:
    await allocator.initialize({"cpu": 1})
    assert await allocator.request_resources("a", {"cpu": 1}, ttl=30)
    assert await allocator.renew("a", 60)
    async with ResourceAllocator(settings) as other:  # another process would see the same pool
        assert not await other.request_resources("b", {"cpu": 1}, wait=False)
        assert await other.release_resources("a")
        assert await other.request_resources("b", {"cpu": 1})
    assert (await allocator.get_resource_status())["allocations"] == 1
