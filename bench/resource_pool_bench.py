"""Resource pool benchmark: allocate/release latency and throughput, grant pass and reclaim costs.

Run: ``.venv/bin/python bench/resource_pool_bench.py``. Starts its own redis-server on a free
port. Prints a table, then (last line) one JSON object of the figures.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console
from rich.table import Table

from coordination.config import Settings
from coordination.keys import Keys
from coordination.redis_client import CoordRedis, async_client, sync_client
from coordination.resources import AsyncResourcePool, ResourcePool
from tests.redis_server import RedisServer

CYCLES = 5000
THREADS = 8
TASKS = 64
QUEUE = 1000


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def single_client(pool: ResourcePool) -> dict[str, float]:
    """One client: allocate then release, CYCLES times; per-call latency."""
    alloc, rel = [], []
    for i in range(CYCLES):
        t0 = time.perf_counter()
        pool.allocate(f"s{i}", {"cpu": "500m", "memory": "256Mi"})
        t1 = time.perf_counter()
        pool.release(f"s{i}")
        alloc.append(t1 - t0)
        rel.append(time.perf_counter() - t1)
    return {
        "alloc_p50_ms": statistics.median(alloc) * 1e3,
        "alloc_p99_ms": percentile(alloc, 0.99) * 1e3,
        "release_p50_ms": statistics.median(rel) * 1e3,
        "release_p99_ms": percentile(rel, 0.99) * 1e3,
    }


def threaded(pool: ResourcePool) -> float:
    """THREADS threads each allocate+release CYCLES/THREADS times: operations per second."""
    per = CYCLES // THREADS

    def work(t: int) -> None:
        for i in range(per):
            pool.allocate(f"t{t}-{i}", {"cpu": "1"}, wait=False)
            pool.release(f"t{t}-{i}")

    threads = [threading.Thread(target=work, args=(t,)) for t in range(THREADS)]
    start = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return 2 * per * THREADS / (time.perf_counter() - start)


async def asyncio_tasks(settings: Settings, keys: Keys) -> float:
    client = async_client(settings)
    pool = AsyncResourcePool(client, keys, "bench")
    per = CYCLES // TASKS

    async def work(t: int) -> None:
        for i in range(per):
            await pool.allocate(f"a{t}-{i}", {"cpu": "1"}, wait=False)
            await pool.release(f"a{t}-{i}")

    start = time.perf_counter()
    await asyncio.gather(*(work(t) for t in range(TASKS)))
    elapsed = time.perf_counter() - start
    await client.aclose()
    return 2 * per * TASKS / elapsed


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1e3


def grant_pass(pool: ResourcePool) -> dict[str, float]:
    """QUEUE waiters that do not fit (big) behind the holder; release scans them all."""
    pool.initialize({"cpu": 4})
    pool.allocate("holder", {"cpu": 4})
    for i in range(QUEUE):
        pool.allocate(f"w{i}", {"cpu": 4 if i < QUEUE - 4 else 1}, wait=True, priority=1)
    ms = timed(lambda: pool.release("holder"))  # scans QUEUE waiters, grants the 4 small ones
    return {"release_scanning_waiters_ms": ms, "waiters": QUEUE}


def reclaim_batch(pool: ResourcePool, client: CoordRedis) -> dict[str, float]:
    pool.initialize({"cpu": QUEUE})
    for i in range(QUEUE):
        pool.allocate(f"e{i}", {"cpu": 1}, ttl=0.001)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # wait until Redis time passes the last expiry
        rec = pool.get_allocation(f"e{QUEUE - 1}")
        seconds, micros = client.time()
        if rec and rec.expires_at and seconds + micros / 1e6 > rec.expires_at:
            break
    t0 = time.perf_counter()
    result = pool.reclaim()
    return {"reclaim_ms": (time.perf_counter() - t0) * 1e3, "reclaimed": len(result.reclaimed)}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(Path(tmp))
        server.start()
        try:
            settings = Settings.load(redis={"url": server.url, "key_prefix": "bench"})
            keys = Keys("bench")
            client = sync_client(settings)
            pool = ResourcePool(client, keys, "bench")
            pool.initialize({"cpu": 1_000_000, "memory": "1Pi"})
            figures: dict[str, float] = {}
            figures |= single_client(pool)
            figures["threads_ops_per_s"] = threaded(pool)
            figures["asyncio_ops_per_s"] = asyncio.run(asyncio_tasks(settings, keys))
            figures |= grant_pass(ResourcePool(client, keys, "queue"))
            figures |= reclaim_batch(ResourcePool(client, keys, "expiry"), client)
        finally:
            server.stop()
    show(figures)
    print(json.dumps({k: round(v, 4) for k, v in figures.items()}))


def show(figures: dict[str, float]) -> None:
    table = Table(title="resource pool (one redis-server on loopback)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    rows = [
        (
            "allocate p50 / p99 (1 client)",
            f"{figures['alloc_p50_ms']:.3f} / {figures['alloc_p99_ms']:.3f} ms",
        ),
        (
            "release p50 / p99 (1 client)",
            f"{figures['release_p50_ms']:.3f} / {figures['release_p99_ms']:.3f} ms",
        ),
        (f"allocate+release, {THREADS} threads", f"{figures['threads_ops_per_s']:,.0f} ops/s"),
        (f"allocate+release, {TASKS} asyncio tasks", f"{figures['asyncio_ops_per_s']:,.0f} ops/s"),
        (f"release scanning {QUEUE} waiters", f"{figures['release_scanning_waiters_ms']:.2f} ms"),
        (f"reclaim {int(figures['reclaimed'])} expired", f"{figures['reclaim_ms']:.2f} ms"),
    ]
    for row in rows:
        table.add_row(*row)
    Console().print(table)


if __name__ == "__main__":
    main()
