"""Contract tests of the shared resource pool, run against the sync and the asyncio pool."""

from __future__ import annotations

from typing import Any

import pytest

from coordination.errors import CapacityError, InvalidInputError
from coordination.keys import Keys
from coordination.redis_client import AsyncCoordRedis, CoordRedis
from coordination.resources import AsyncResourcePool, ResourcePool
from tests.test_resource_pool_support import AwaitableSyncPool, poll, snapshot

GiB = 2**30


@pytest.fixture(params=["sync", "async"])
def pool(request: pytest.FixtureRequest, redis_client: CoordRedis, keys: Keys) -> Any:
    if request.param == "sync":
        return AwaitableSyncPool(ResourcePool(redis_client, keys, "scheduler"))
    aredis: AsyncCoordRedis = request.getfixturevalue("aredis")
    return AsyncResourcePool(aredis, keys, "scheduler")


async def test_initialize_normalizes_and_reports_status(pool: Any) -> None:
    total = await pool.initialize({"cpu": 16, "memory": "32Gi", "gpu": "500m"})
    assert total == {"cpu": 16000, "memory": 32 * GiB, "gpu": 500}
    status = await pool.status()
    assert status.capacity == total
    assert status.allocated == {"cpu": 0, "gpu": 0, "memory": 0}
    assert status.available == total
    assert (status.allocations, status.waiting) == (0, 0)


async def test_fit_then_refuse_without_waiting(pool: Any) -> None:
    await pool.initialize({"cpu": 4, "memory": "8Gi"})
    first = await pool.allocate("a", {"cpu": 3, "memory": "4Gi"})
    assert first and first.granted and not first.waiting and first.position is None
    second = await pool.allocate("b", {"cpu": "1500m"})
    assert not second and not second.granted and not second.waiting
    assert await pool.get_allocation("b") is None
    status = await pool.status()
    assert status.allocated == {"cpu": 3000, "memory": 4 * GiB}
    assert status.available == {"cpu": 1000, "memory": 4 * GiB}
    assert status.utilization == {"cpu": 0.75, "memory": 0.5}
    assert status.allocations == 1
    assert await pool.allocate("c", {"cpu": "1000m", "memory": "4Gi"})  # exactly fills it
    assert (await pool.status()).available == {"cpu": 0, "memory": 0}


async def test_waiters_granted_on_release_by_priority_then_arrival(pool: Any) -> None:
    await pool.initialize({"cpu": 2})
    assert await pool.allocate("holder", {"cpu": 2})
    positions = {}
    for rid, prio in [("low", 0), ("high", 10), ("mid", 5), ("high2", 10)]:
        result = await pool.allocate(rid, {"cpu": 1}, priority=prio, wait=True)
        assert result.waiting and not result.granted
        positions[rid] = result.position
    assert positions == {"low": 1, "high": 1, "mid": 2, "high2": 2}  # place at enqueue time
    released = await pool.release("holder")
    assert released.released and released.granted == ["high", "high2"]
    assert (await pool.get_allocation("mid")).status == "waiting"
    assert (await pool.allocate("mid", {"cpu": 1}, wait=True)).position == 1
    assert (await pool.allocate("low", {"cpu": 1}, wait=True)).position == 2
    assert (await pool.release("high")).granted == ["mid"]
    assert (await pool.release("high2")).granted == ["low"]
    status = await pool.status()
    assert (status.allocations, status.waiting, status.allocated) == (2, 0, {"cpu": 2000})


async def test_backfill_skips_a_big_waiter_that_does_not_fit(pool: Any) -> None:
    await pool.initialize({"cpu": 4})
    assert await pool.allocate("a", {"cpu": 2})
    assert await pool.allocate("b", {"cpu": 2})
    assert (await pool.allocate("big", {"cpu": 4}, priority=10, wait=True)).waiting
    assert (await pool.allocate("small", {"cpu": 1}, priority=0, wait=True)).waiting
    assert (await pool.release("b")).granted == ["small"]  # big needs 4, only 2 free
    assert (await pool.release("a")).granted == []  # 3 free: big still waits
    assert (await pool.release("small")).granted == ["big"]
    assert (await pool.status()).allocated == {"cpu": 4000}


async def test_requests_that_can_never_fit_raise_capacity_error(
    pool: Any, redis_client: CoordRedis, keys: Keys
) -> None:
    with pytest.raises(CapacityError, match="no resource 'cpu'"):
        await pool.allocate("early", {"cpu": 1})  # pool not initialized yet
    await pool.initialize({"cpu": 4, "memory": "8Gi"})
    before = snapshot(redis_client, keys)
    with pytest.raises(CapacityError, match="cpu 5 exceeds the total capacity 4"):
        await pool.allocate("x", {"cpu": 5}, wait=True)
    with pytest.raises(CapacityError, match="memory 9Gi exceeds"):
        await pool.allocate("x", {"cpu": 1, "memory": "9Gi"}, wait=True)
    with pytest.raises(CapacityError, match="no resource 'gpu'"):
        await pool.allocate("x", {"cpu": 1, "gpu": 1}, wait=True)
    assert snapshot(redis_client, keys) == before


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"resources": {"cpu": "-1"}}, "resources.cpu"),
        ({"resources": {"cpu": -2}}, "resources.cpu"),
        ({"resources": {"cpu": "2x"}}, "resources.cpu"),
        ({"resources": {"memory": "4Qi"}}, "resources.memory"),
        ({"resources": {"cpu": True}}, "resources.cpu"),
        ({"resources": {"cpu": 2**60}}, "resources.cpu"),
        ({"resources": ["cpu"]}, "resources"),
        ({"request_id": ""}, "request_id"),
        ({"request_id": "has space"}, "request_id"),
        ({"priority": "high"}, "priority"),
        ({"priority": 2**40}, "priority"),
        ({"priority": True}, "priority"),
        ({"wait": 1}, "wait"),
        ({"ttl": 0}, "ttl"),
        ({"ttl": float("inf")}, "ttl"),
    ],
)
async def test_bad_input_names_the_field_and_writes_nothing(
    pool: Any, redis_client: CoordRedis, keys: Keys, kwargs: dict[str, Any], field: str
) -> None:
    await pool.initialize({"cpu": 4, "memory": "8Gi"})
    before = snapshot(redis_client, keys)
    call = {"request_id": "r1", "resources": {"cpu": 1}, **kwargs}
    rid, resources = call.pop("request_id"), call.pop("resources")
    with pytest.raises(InvalidInputError) as info:
        await pool.allocate(rid, resources, **call)
    assert info.value.field == field
    assert snapshot(redis_client, keys) == before


async def test_bad_capacity_and_ids_elsewhere(
    pool: Any, redis_client: CoordRedis, keys: Keys
) -> None:
    for capacity, field in [
        ({}, "capacity"),
        ({"cpu": 0}, "capacity"),
        ({"cpu": "-4"}, "capacity.cpu"),
    ]:
        with pytest.raises(InvalidInputError) as info:
            await pool.initialize(capacity)
        assert info.value.field == field
    for method, args in [("release", ("",)), ("get_allocation", ("a b",)), ("renew", ("a", -1))]:
        with pytest.raises(InvalidInputError):
            await getattr(pool, method)(*args)
    assert snapshot(redis_client, keys) == {}
    with pytest.raises(InvalidInputError) as info:
        ResourcePool(redis_client, keys, "bad:name")
    assert info.value.field == "name"


async def test_rerequest_is_idempotent(pool: Any) -> None:
    await pool.initialize({"cpu": 2})
    assert await pool.allocate("a", {"cpu": 2})
    again = await pool.allocate("a", {"cpu": 1})  # same id: current state, nothing changes
    assert again.granted
    assert (await pool.get_allocation("a")).resources == {"cpu": 2000}
    first = await pool.allocate("w", {"cpu": 1}, wait=True)
    second = await pool.allocate("w", {"cpu": 1}, wait=True)
    assert first.waiting and second.waiting and first.position == second.position == 1
    status = await pool.status()
    assert (status.allocations, status.waiting, status.allocated) == (1, 1, {"cpu": 2000})


async def test_release_unknown_and_waiting_requests(pool: Any) -> None:
    await pool.initialize({"cpu": 1})
    unknown = await pool.release("nobody")
    assert not unknown.released and unknown.granted == []
    assert await pool.allocate("a", {"cpu": 1})
    assert (await pool.allocate("w1", {"cpu": 1}, wait=True)).position == 1
    assert (await pool.allocate("w2", {"cpu": 1}, wait=True)).position == 2
    withdrawn = await pool.release("w1")
    assert withdrawn.released and withdrawn.granted == []
    assert await pool.get_allocation("w1") is None
    assert (await pool.allocate("w2", {"cpu": 1}, wait=True)).position == 1
    assert (await pool.release("a")).granted == ["w2"]
    assert not (await pool.release("a")).released  # twice: no double free
    assert (await pool.status()).allocated == {"cpu": 1000}


async def test_allocation_record(pool: Any, redis_client: CoordRedis) -> None:
    await pool.initialize({"cpu": 1, "memory": "1Gi"})
    server_now = float(redis_client.time()[0])
    await pool.allocate("a", {"cpu": "250m", "memory": "512Mi"}, priority=7, ttl=30)
    rec = await pool.get_allocation("a")
    assert rec.status == "granted" and rec.priority == 7
    assert rec.resources == {"cpu": 250, "memory": 512 * 2**20}
    assert abs(rec.granted_at - server_now) < 5
    assert rec.expires_at == pytest.approx(rec.granted_at + 30, abs=0.002)
    await pool.allocate("w", {"cpu": 1}, priority=-3, wait=True)
    waiting = await pool.get_allocation("w")
    assert (waiting.status, waiting.granted_at, waiting.expires_at) == ("waiting", None, None)


async def test_expired_allocations_are_reclaimed_and_waiters_granted(pool: Any) -> None:
    await pool.initialize({"cpu": 2})
    assert await pool.allocate("lease", {"cpu": 2}, ttl=0.2)
    assert await pool.allocate("forever", {"cpu": 0}) is not None  # empty request: no hold
    assert (await pool.allocate("next", {"cpu": 1}, wait=True, ttl=60)).waiting
    result = await poll(lambda: _reclaimed(pool))
    assert result.reclaimed == ["lease"] and result.granted == ["next"]
    granted = await pool.get_allocation("next")
    assert granted.status == "granted"
    assert granted.expires_at == pytest.approx(granted.granted_at + 60, abs=0.002)
    assert await pool.get_allocation("lease") is None
    assert (await pool.status()).allocated == {"cpu": 1000}
    assert (await pool.reclaim()).reclaimed == []  # nothing left to do


async def _reclaimed(pool: Any) -> Any:
    result = await pool.reclaim()
    return result if result.reclaimed else None


async def test_renew_keeps_an_allocation_alive(pool: Any) -> None:
    await pool.initialize({"cpu": 2})
    await pool.allocate("kept", {"cpu": 1}, ttl=0.2)
    await pool.allocate("dropped", {"cpu": 1}, ttl=0.2)
    assert await pool.renew("kept", 60)
    assert not await pool.renew("unknown", 60)
    result = await poll(lambda: _reclaimed(pool))  # time has passed both original expiries
    assert result.reclaimed == ["dropped"]
    assert (await pool.get_allocation("kept")).status == "granted"


async def test_resize_keeps_allocations_and_grants_waiters(pool: Any) -> None:
    await pool.initialize({"cpu": 4})
    assert await pool.allocate("a", {"cpu": 3})
    await pool.initialize({"cpu": 2})  # shrink below what is held
    status = await pool.status()
    assert status.allocated == {"cpu": 3000} and status.available == {"cpu": 0}
    assert status.utilization == {"cpu": 1.5}
    assert (await pool.allocate("w", {"cpu": 2}, wait=True)).waiting
    assert await pool.initialize({"cpu": 8}) == {"cpu": 8000}
    assert (await pool.get_allocation("w")).status == "granted"
    assert (await pool.status()).allocated == {"cpu": 5000}


async def test_pools_are_independent(redis_client: CoordRedis, keys: Keys) -> None:
    scheduler = ResourcePool(redis_client, keys, "scheduler")
    containers = ResourcePool(redis_client, keys, "containers")
    scheduler.initialize({"cpu": 1})
    containers.initialize({"cpu": 1})
    assert scheduler.allocate("a", {"cpu": 1})
    assert containers.allocate("a", {"cpu": 1})
    assert scheduler.release("a").released
    assert containers.status().allocated == {"cpu": 1000}
