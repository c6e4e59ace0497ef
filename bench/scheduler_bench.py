"""Scheduler benchmark: the full cycle submit -> claim -> complete against a local redis-server.

With 100,000 tasks queued, measures throughput of the cycle with single calls (submit_task,
get_next_task, complete_task) and batched (submit_tasks, dispatch, complete_tasks), with 1 and
4 concurrent clients (processes), and p50/p99 latency of each single call. Prints a table and,
as its last line, one JSON object of the figures.

Run: .venv/bin/python bench/scheduler_bench.py [--quick]
"""

from __future__ import annotations

import json
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console
from rich.table import Table

from coordination.config import Settings
from coordination.scheduler import SyncTaskScheduler
from tests.redis_server import RedisServer

BACKLOG = 100_000
SINGLE_CYCLES = 3_000
BATCH = 1_000
BATCH_ROUNDS = 20


def make_settings(url: str) -> Settings:
    return Settings.load(
        redis={"url": url, "key_prefix": "bench"},
        scheduler={
            "max_concurrent_tasks": 10_000_000,
            "worker_ttl": 3600,
            "default_strategy": "priority",
        },
    )


def single_cycles(url: str, worker: str, cycles: int) -> dict[str, Any]:
    sched = SyncTaskScheduler(make_settings(url))
    sched.register_worker(worker, 1_000_000)
    lat: dict[str, list[float]] = {"submit": [], "claim": [], "complete": []}
    clock = time.perf_counter
    start = clock()
    for i in range(cycles):
        t0 = clock()
        sched.submit_task("bench", args=[i], priority=i % 10)
        t1 = clock()
        task = sched.get_next_task(worker)
        t2 = clock()
        assert task is not None
        sched.complete_task(task.task_id, attempt=task.attempt)
        t3 = clock()
        lat["submit"].append(t1 - t0)
        lat["claim"].append(t2 - t1)
        lat["complete"].append(t3 - t2)
    elapsed = clock() - start
    sched.close()
    return {"tasks": cycles, "elapsed": elapsed, "lat": lat}


def batched_cycles(url: str, worker: str, rounds: int) -> dict[str, Any]:
    sched = SyncTaskScheduler(make_settings(url))
    sched.register_worker(worker, 1_000_000)
    done = 0
    start = time.perf_counter()
    for r in range(rounds):
        sched.submit_tasks([{"task_name": "bench", "args": [r, i]} for i in range(BATCH)])
        assigned = sched.dispatch(limit=BATCH)
        results = sched.complete_tasks(assigned)
        done += sum(1 for x in results if x.ok)
    elapsed = time.perf_counter() - start
    sched.close()
    return {"tasks": done, "elapsed": elapsed, "lat": {}}


def _child(kind: str, url: str, worker: str, n: int, out: Any) -> None:
    fn = single_cycles if kind == "single" else batched_cycles
    out.put(fn(url, worker, n))


def run_clients(kind: str, url: str, clients: int, n: int) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [
        ctx.Process(target=_child, args=(kind, url, f"{kind}-w{c}", n, queue))
        for c in range(clients)
    ]
    start = time.perf_counter()
    for p in procs:
        p.start()
    results = [queue.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
    wall = time.perf_counter() - start
    tasks = sum(r["tasks"] for r in results)
    # throughput over the slowest client's busy time (process start-up excluded)
    busy = max(r["elapsed"] for r in results)
    lat: dict[str, list[float]] = {}
    for r in results:
        for name, values in r["lat"].items():
            lat.setdefault(name, []).extend(values)
    return {"tasks": tasks, "per_s": tasks / busy, "wall": wall, "lat": lat}


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def main() -> None:
    quick = "--quick" in sys.argv
    backlog = 10_000 if quick else BACKLOG
    cycles = 500 if quick else SINGLE_CYCLES
    rounds = 5 if quick else BATCH_ROUNDS
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(Path(tmp))
        server.start()
        try:
            sched = SyncTaskScheduler(make_settings(server.url))
            t0 = time.perf_counter()
            for start in range(0, backlog, 5_000):
                sched.submit_tasks(
                    [
                        {"task_name": "backlog", "priority": -50}
                        for _ in range(min(5_000, backlog - start))
                    ]
                )
            fill = time.perf_counter() - t0
            depth = sched.get_scheduler_stats()["queue_depths"]["default"]
            sched.close()
            console.print(f"queued {depth} tasks in {fill:.1f}s ({depth / fill:,.0f}/s)")
            runs = {
                ("single", 1): run_clients("single", server.url, 1, cycles),
                ("single", 4): run_clients("single", server.url, 4, cycles // 2),
                ("batched", 1): run_clients("batched", server.url, 1, rounds),
                ("batched", 4): run_clients("batched", server.url, 4, max(1, rounds // 2)),
            }
            final = SyncTaskScheduler(make_settings(server.url))
            stats = final.get_scheduler_stats()
            final.close()
        finally:
            server.stop()

    table = Table(title=f"scheduler cycle: submit -> claim -> complete ({depth:,} queued)")
    for col in (
        "mode",
        "clients",
        "tasks",
        "tasks/s",
        "submit p50/p99 ms",
        "claim p50/p99 ms",
        "complete p50/p99 ms",
    ):
        table.add_column(col, justify="right")
    for (kind, clients), r in runs.items():
        cells = [
            f"{pct(r['lat'].get(n, []), 0.5):.3f} / {pct(r['lat'].get(n, []), 0.99):.3f}"
            for n in ("submit", "claim", "complete")
        ]
        if kind == "batched":
            cells = ["-", "-", "-"]
        table.add_row(kind, str(clients), f"{r['tasks']:,}", f"{r['per_s']:,.0f}", *cells)
    console.print(table)
    console.print(
        f"completed {stats['completed']:,}, pending left {stats['pending_tasks']:,} (backlog untouched by priority)"
    )
    one = runs[("single", 1)]["lat"]
    figures = {
        "cycle_tasks_per_s": round(runs[("single", 1)]["per_s"]),
        "cycle_tasks_per_s_4_clients": round(runs[("single", 4)]["per_s"]),
        "cycle_batched_tasks_per_s": round(runs[("batched", 1)]["per_s"]),
        "cycle_batched_tasks_per_s_4_clients": round(runs[("batched", 4)]["per_s"]),
        "submit_p50_ms": round(pct(one["submit"], 0.5), 3),
        "submit_p99_ms": round(pct(one["submit"], 0.99), 3),
        "claim_p50_ms": round(pct(one["claim"], 0.5), 3),
        "claim_p99_ms": round(pct(one["claim"], 0.99), 3),
        "complete_p50_ms": round(pct(one["complete"], 0.5), 3),
        "complete_p99_ms": round(pct(one["complete"], 0.99), 3),
        "queued": depth,
        "mean_cycle_ms": round(
            statistics.fmean(
                a + b + c
                for a, b, c in zip(one["submit"], one["claim"], one["complete"], strict=True)
            )
            * 1000,
            3,
        ),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
