"""Registry benchmark: discovery latency per strategy, heartbeat throughput, expiry lag.

Run: .venv/bin/python bench/registry_bench.py   (starts its own redis-server on a free port)

1,000 service names x 10 instances are registered. Figures:
* discover_service p50/p99 per strategy, asyncio API and sync twin (one script per call);
* heartbeats per second with pipelining (update_heartbeats, batches of 1,000, one client);
* lag between an instance's expiry (last heartbeat + TTL, Redis time) and the moment discovery
  stops returning it, with no cleanup running.
The last line is one JSON object of the figures.
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console
from rich.table import Table

from coordination.config import Settings
from coordination.embedded import EmbeddedRedis
from coordination.registry import (
    LoadBalancingStrategy,
    ServiceDiscovery,
    ServiceRegistry,
    SyncServiceDiscovery,
    SyncServiceRegistry,
)

NAMES, PER_NAME = 1000, 10
SAMPLES = 3000
HEARTBEAT_SECONDS = 3.0
BATCH = 1000
EXPIRY_PROBES, EXPIRY_TTL = 20, 0.5


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def populate(reg: SyncServiceRegistry) -> list[str]:
    ids = []
    for n in range(NAMES):
        for i in range(PER_NAME):
            ids.append(
                reg.register_service(
                    f"svc-{n}", "bench", "10.0.0.1", 10000 + i, weight=1 + i % 3, ttl=600
                )
            )
    return ids


def sync_latency(disc: SyncServiceDiscovery, strategy: LoadBalancingStrategy) -> list[float]:
    out = []
    for _ in range(SAMPLES):
        name = f"svc-{random.randrange(NAMES)}"
        t0 = time.perf_counter()
        assert disc.discover_service(name, strategy) is not None
        out.append((time.perf_counter() - t0) * 1000)
    return out


async def async_latency(disc: ServiceDiscovery, strategy: LoadBalancingStrategy) -> list[float]:
    out = []
    for _ in range(SAMPLES):
        name = f"svc-{random.randrange(NAMES)}"
        t0 = time.perf_counter()
        assert await disc.discover_service(name, strategy) is not None
        out.append((time.perf_counter() - t0) * 1000)
    return out


async def async_all(settings: Settings) -> dict[str, list[float]]:
    reg = ServiceRegistry(settings)
    disc = ServiceDiscovery(reg)
    await async_latency(disc, LoadBalancingStrategy.ROUND_ROBIN)  # warm-up
    result = {s.value: await async_latency(disc, s) for s in LoadBalancingStrategy}
    await reg.close()
    return result


def heartbeat_rate(reg: SyncServiceRegistry, ids: list[str]) -> float:
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < HEARTBEAT_SECONDS:
        for start in range(0, len(ids), BATCH):
            result = reg.update_heartbeats(ids[start : start + BATCH])
            assert all(result.values())
            done += len(result)
    return done / (time.perf_counter() - started)


def expiry_lag(reg: SyncServiceRegistry, disc: SyncServiceDiscovery) -> list[float]:
    expires = {}
    for k in range(EXPIRY_PROBES):
        sid = reg.register_service(f"expiry-{k}", "bench", "h", 1, ttl=EXPIRY_TTL)
        expires[f"expiry-{k}"] = reg.update_heartbeat(sid)
    lags: dict[str, float] = {}
    deadline = time.time() + EXPIRY_TTL + 5
    while len(lags) < len(expires) and time.time() < deadline:
        for name, exp in expires.items():
            if name not in lags and disc.discover_service(name) is None:
                lags[name] = time.time() - exp
    return list(lags.values())


def main() -> None:
    console = Console()
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis(Path(tmp)) as server:
        settings = Settings.load(
            redis={"url": server.url, "key_prefix": "bench"},
            registry={"max_services": NAMES * PER_NAME + 1000},
        )
        reg = SyncServiceRegistry(settings)
        disc = SyncServiceDiscovery(reg)
        t0 = time.perf_counter()
        ids = populate(reg)
        register_s = time.perf_counter() - t0

        sync_lat = {s.value: sync_latency(disc, s) for s in LoadBalancingStrategy}
        async_lat = asyncio.run(async_all(settings))
        hb_rate = heartbeat_rate(reg, ids)
        lags = expiry_lag(reg, disc)
        reg.close()

    table = Table(title=f"discover_service latency, {NAMES} names x {PER_NAME} instances (ms)")
    for col in ("strategy", "async p50", "async p99", "sync p50", "sync p99"):
        table.add_column(col, justify="right" if col != "strategy" else "left")
    for s in LoadBalancingStrategy:
        a, b = async_lat[s.value], sync_lat[s.value]
        table.add_row(
            s.value,
            f"{statistics.median(a):.3f}",
            f"{pct(a, 0.99):.3f}",
            f"{statistics.median(b):.3f}",
            f"{pct(b, 0.99):.3f}",
        )
    console.print(table)
    other = Table(title="throughput and expiry")
    other.add_column("figure")
    other.add_column("value", justify="right")
    other.add_row(f"register {NAMES * PER_NAME} instances (s)", f"{register_s:.2f}")
    other.add_row("heartbeats/s (pipelined, 1 client)", f"{hb_rate:,.0f}")
    other.add_row("expiry lag p50 / max (s)", f"{statistics.median(lags):.4f} / {max(lags):.4f}")
    other.add_row("expired instances observed", f"{len(lags)}/{EXPIRY_PROBES}")
    console.print(other)
    figures = {
        "discover_p99_ms": round(max(pct(v, 0.99) for v in async_lat.values()), 4),
        "discover_p99_ms_sync": round(max(pct(v, 0.99) for v in sync_lat.values()), 4),
        "discover_p50_ms": round(max(statistics.median(v) for v in async_lat.values()), 4),
        "heartbeats_per_s": round(hb_rate),
        "expiry_visible_lag_s": round(max(lags), 4),
        "instances": NAMES * PER_NAME,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
