"""No over-commit: many concurrent requests, from threads and from asyncio tasks."""

from __future__ import annotations

import asyncio
import random
import threading
from concurrent.futures import ThreadPoolExecutor

from coordination.config import Settings
from coordination.keys import Keys
from coordination.redis_client import CoordRedis, async_client
from coordination.resources import AllocationResult, AsyncResourcePool, ResourcePool

REQUESTS = 200


def test_threads_never_over_commit(
    settings: Settings, redis_client: CoordRedis, keys: Keys
) -> None:
    pool = ResourcePool(redis_client, keys, "scheduler")
    pool.initialize({"cpu": 50, "memory": "100Gi"})
    start = threading.Barrier(32)

    def request(i: int) -> AllocationResult:
        if i < 32:
            start.wait(timeout=30)  # the first wave hits Redis at the same moment
        return pool.allocate(f"r{i}", {"cpu": "1", "memory": "1Gi"})

    with ThreadPoolExecutor(max_workers=32) as executor:
        results = list(executor.map(request, range(REQUESTS)))
    granted = [r.request_id for r in results if r.granted]
    assert len(granted) == 50  # exactly what fits: 50 cpu of 1 each
    assert not any(r.waiting for r in results)
    status = pool.status()
    assert status.allocated == {"cpu": 50_000, "memory": 50 * 2**30}
    assert status.allocations == 50
    held = sum(pool.get_allocation(r).resources["cpu"] for r in granted)  # type: ignore[union-attr]
    assert held == 50_000


async def test_asyncio_tasks_never_over_commit_with_mixed_sizes(
    settings: Settings, keys: Keys
) -> None:
    client = async_client(settings)
    try:
        pool = AsyncResourcePool(client, keys, "scheduler")
        await pool.initialize({"cpu": 37, "gpu": 5})
        rng = random.Random(7)
        sizes = [
            (rng.choice(["250m", "500m", "1", "1500m", "3"]), rng.choice([0, 0, 0, 1]))
            for _ in range(REQUESTS)
        ]
        gate = asyncio.Semaphore(64)  # below the client's connection pool size

        async def request(i: int) -> AllocationResult:
            async with gate:
                cpu, gpu = sizes[i]
                return await pool.allocate(f"r{i}", {"cpu": cpu, "gpu": gpu})

        results = await asyncio.gather(*(request(i) for i in range(REQUESTS)))
        status = await pool.status()
        held = {"cpu": 0, "gpu": 0}
        for r in results:
            if r.granted:
                record = await pool.get_allocation(r.request_id)
                assert record is not None
                for name, amount in record.resources.items():
                    held[name] += amount
        assert held == status.allocated
        assert held["cpu"] <= 37_000 and held["gpu"] <= 5_000
        # Free capacity only shrank during the run, so each refusal still cannot fit at the end.
        for r in results:
            if not r.granted:
                cpu, gpu = sizes[int(r.request_id[1:])]
                wanted = {"cpu": _milli(cpu), "gpu": gpu * 1000}
                assert any(wanted[n] > status.available[n] for n in wanted)
    finally:
        await client.aclose()


def _milli(cpu: str) -> int:
    return int(cpu[:-1]) if cpu.endswith("m") else int(cpu) * 1000


async def test_churn_every_waiter_granted_exactly_once(settings: Settings, keys: Keys) -> None:
    """200 waiting requests on 10 slots, released concurrently as they are granted."""
    client = async_client(settings)
    try:
        pool = AsyncResourcePool(client, keys, "scheduler")
        await pool.initialize({"cpu": 10})
        gate = asyncio.Semaphore(64)  # below the client's connection pool size

        async def request(i: int) -> AllocationResult:
            async with gate:
                return await pool.allocate(f"r{i}", {"cpu": 1}, wait=True, priority=i % 3)

        first = await asyncio.gather(*(request(i) for i in range(REQUESTS)))
        grants = [r.request_id for r in first if r.granted]
        assert len(grants) == 10
        queue: asyncio.Queue[str] = asyncio.Queue()
        for rid in grants:
            queue.put_nowait(rid)
        peak = 0

        async def releaser() -> None:
            nonlocal peak
            while True:
                rid = await queue.get()
                peak = max(peak, (await pool.status()).allocated["cpu"])
                released = await pool.release(rid)
                assert released.released
                grants.extend(released.granted)
                for granted in released.granted:
                    queue.put_nowait(granted)
                queue.task_done()  # after queueing what it granted, so join() means all done

        workers = [asyncio.create_task(releaser()) for _ in range(16)]
        await asyncio.wait_for(queue.join(), timeout=60)
        for worker in workers:
            worker.cancel()
        assert sorted(grants) == sorted(f"r{i}" for i in range(REQUESTS))  # each exactly once
        assert 0 < peak <= 10_000
        status = await pool.status()
        assert (status.allocations, status.waiting, status.allocated) == (0, 0, {"cpu": 0})
    finally:
        await client.aclose()
