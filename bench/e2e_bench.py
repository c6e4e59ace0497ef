"""End to end: plain Celery 5 vs this system on one machine and one Redis.

Each side: one worker, concurrency 2, the same no-op task, 10,000 tasks per round; rounds
alternate between the sides (five each, the median counts) so the machine's drift hits both
alike. Then 200 tasks of mixed priority queued behind a busy worker, counting priority
inversions; then (ours) the seconds from SIGKILL of a busy worker until its task starts on
another worker.
Usage: .venv/bin/python bench/e2e_bench.py [--tasks 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from coordination.config import Settings  # noqa: E402
from coordination.keys import Keys  # noqa: E402
from coordination.processes import ProcessGroup, celery_command, worker_args  # noqa: E402
from tests.polling import wait_for as wait_until  # noqa: E402
from tests.redis_server import RedisServer  # noqa: E402

PREFIX = "bench"
INVERSION_TASKS = 200


CONCURRENCY = 2


def inversions(order: list[int], window: int = 1) -> int:
    """Pairs recorded lower priority first (higher number = higher priority) at least
    ``window`` places apart. Tasks running side by side on the worker's slots finish in any
    order, so ``window=CONCURRENCY`` counts only inversions beyond the in-flight window."""
    n = len(order)
    return sum(1 for i in range(n) for j in range(i + window, n) if order[i] < order[j])


def base_env(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COORD_")}
    env.update({"BENCH_REDIS_URL": url, "PYTHONPATH": str(ROOT), "COORD_REDIS__URL": url})
    env.update({"COORD_REDIS__KEY_PREFIX": PREFIX, "COORD_CELERY__IMPORTS": '["bench.ours_tasks"]'})
    # True priorities (the seed's default strategy, fifo, ignores them on purpose).
    env["COORD_SCHEDULER__DEFAULT_STRATEGY"] = "priority"
    return env


class PlainSide:
    """Plain Celery: apply_async to one shared queue, no scheduling layer."""

    name = "plain Celery 5"

    def __init__(self, url: str, procs: ProcessGroup):
        os.environ["BENCH_REDIS_URL"] = url
        from bench import plain_celery_app

        self.mod = plain_celery_app
        self.r = redis.Redis.from_url(url)
        self.procs = procs

    def start(self) -> None:
        cmd = [sys.executable, "-m", "celery", "-A", "bench.plain_celery_app", "worker",
               "-c", str(CONCURRENCY), "-P", "prefork", "-E", "--without-gossip",
               "--without-mingle", "-n", "plain@bench"]  # fmt: skip
        self.procs.start("plain-worker", cmd)
        self.mod.noop.apply_async()
        wait_until(lambda: self.r.get("bench:plain:done"), 60, "plain worker ready")

    def throughput(self, n: int) -> float:
        base = int(self.r.get("bench:plain:done") or 0)
        began = time.perf_counter()
        with self.mod.app.producer_or_acquire() as producer:
            for _ in range(n):
                self.mod.noop.apply_async(producer=producer)
        wait_until(lambda: int(self.r.get("bench:plain:done") or 0) - base >= n, 600, "plain")
        return n / (time.perf_counter() - began)

    def priority_order(self, prios: list[int]) -> list[int]:
        """Both slots busy, then the mixed batch (Celery: 0 is the highest priority)."""
        self.mod.sleep.apply_async(args=[1.0], priority=0)
        self.mod.sleep.apply_async(args=[1.0], priority=0)
        time.sleep(0.3)  # Celery gives no start signal: let both sleepers be taken first
        with self.mod.app.producer_or_acquire() as producer:
            for p in prios:
                self.mod.record.apply_async(args=[p], priority=9 - p, producer=producer)
        wait_until(lambda: self.r.llen("bench:plain:order") >= len(prios), 120, "plain order")
        return [json.loads(x) for x in self.r.lrange("bench:plain:order", 0, -1)]


class OursSide:
    """This system: submit to the scheduler; workers take tasks from their own queues."""

    name = "coordination"

    def __init__(self, url: str, procs: ProcessGroup):
        from coordination.scheduler import SyncTaskScheduler

        settings = Settings.load(
            redis={"url": url, "key_prefix": PREFIX}, scheduler={"default_strategy": "priority"}
        )
        self.scheduler = SyncTaskScheduler(settings)
        self.r = redis.Redis.from_url(url)
        self.procs = procs
        # Poll one counter, as the plain side does (the full stats call costs more).
        self.completed_key = Keys(PREFIX).scheduler.stats()

    def start(self) -> None:
        args = worker_args("w1@bench", CONCURRENCY, loglevel="WARNING")
        self.procs.start("w1", celery_command(*args))
        wait_until(lambda: self.scheduler.list_workers(), 60, "our worker ready")
        self.scheduler.wait_for_task(self.scheduler.submit_task(task_name="bench.noop"), 60)

    def completed(self) -> int:
        return int(self.r.hget(self.completed_key, "completed") or 0)

    def throughput(self, n: int) -> float:
        base = self.completed()
        began = time.perf_counter()
        for start in range(0, n, 500):
            self.scheduler.submit_tasks([{"task_name": "bench.noop"}] * min(500, n - start))
        wait_until(lambda: self.completed() - base >= n, 600, "ours")
        return n / (time.perf_counter() - began)

    def priority_order(self, prios: list[int]) -> list[int]:
        """Both slots busy, then the same mixed batch (ours: higher number first)."""
        self.scheduler.submit_tasks(
            [{"task_name": "bench.sleep", "args": [1.0], "priority": 9}] * 2
        )
        wait_until(lambda: self.r.llen("{bench}:bench:starts") >= 2, 30, "sleepers running")
        batch = [{"task_name": "bench.record", "args": [p], "priority": p} for p in prios]
        self.scheduler.submit_tasks(batch)
        wait_until(lambda: self.r.llen("{bench}:bench:order") >= len(prios), 120, "our order")
        return [json.loads(x) for x in self.r.lrange("{bench}:bench:order", 0, -1)]


def measure(url: str, n: int, rounds: int, log_dir: Path) -> dict[str, dict[str, Any]]:
    """Both workers up; throughput rounds alternate between the sides, so drift in the
    machine's speed hits both alike; the median of each side counts."""
    procs = ProcessGroup(base_env(url), log_dir, own_sessions=True)
    plain, ours = PlainSide(url, procs), OursSide(url, procs)
    try:
        plain.start()
        ours.start()
        rates: dict[str, list[float]] = {"plain": [], "ours": []}
        for _ in range(rounds):
            rates["plain"].append(plain.throughput(n))
            rates["ours"].append(ours.throughput(n))
        rng = random.Random(7)
        prios = [rng.randint(0, 9) for _ in range(INVERSION_TASKS)]
        out: dict[str, dict[str, Any]] = {}
        for key, side in (("plain", plain), ("ours", ours)):
            order = side.priority_order(prios)
            out[key] = {
                "tasks_per_s": statistics.median(rates[key]),
                "rates": rates[key],
                "inversions": inversions(order),
                "beyond_window": inversions(order, CONCURRENCY),
            }
        procs.kill("plain-worker", signal.SIGTERM)
        out["ours"]["recovery_s"] = recovery_seconds(ours.scheduler, procs, ours.r)
        return out
    finally:
        procs.stop()


def recovery_seconds(scheduler: Any, procs: ProcessGroup, r: redis.Redis) -> float:
    """SIGKILL the worker running a task; seconds until the task starts on another worker."""
    procs.start("w2", celery_command(*worker_args("w2@bench", CONCURRENCY, loglevel="WARNING")))
    wait_until(lambda: len(scheduler.list_workers()) == 2, 60, "second worker")
    r.delete("{bench}:bench:starts")
    scheduler.submit_task(task_name="bench.sleep", args=[30.0])
    first = wait_until(lambda: r.lindex("{bench}:bench:starts", 0), 30, "victim start")
    victim = json.loads(first)[0]
    procs.kill("w1" if victim.startswith("w1") else "w2")
    killed = time.time()
    second = wait_until(lambda: r.lindex("{bench}:bench:starts", 1), 60, "restart elsewhere")
    host, started = json.loads(second)
    assert host != victim
    return started - killed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5, help="throughput rounds per side (median)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(Path(tmp) / "redis")
        server.start()
        try:
            result = measure(server.url, args.tasks, args.rounds, Path(tmp))
            plain, ours = result["plain"], result["ours"]
        finally:
            server.stop()
    settings = Settings.load()
    table = Table(title=f"end to end, {args.tasks} no-op tasks, one worker of concurrency 2")
    for col in (
        "system",
        "tasks/s",
        f"inversions ({INVERSION_TASKS} mixed)",
        "beyond the in-flight window",
        "recovery after SIGKILL",
    ):
        table.add_column(col)
    table.add_row(
        "plain Celery 5",
        f"{plain['tasks_per_s']:.0f}",
        str(plain["inversions"]),
        str(plain["beyond_window"]),
        "visibility timeout (12 h here)",
    )
    table.add_row(
        "coordination",
        f"{ours['tasks_per_s']:.0f}",
        str(ours["inversions"]),
        str(ours["beyond_window"]),
        f"{ours['recovery_s']:.2f} s",
    )
    Console().print(table)
    print(
        "rounds (tasks/s):",
        {"plain": [round(x) for x in plain["rates"]], "ours": [round(x) for x in ours["rates"]]},
    )
    print(
        f"target: ratio >= 1.0, recovery <= worker_ttl + 1 = {settings.scheduler.worker_ttl + 1:.0f} s"
    )
    print(json.dumps({
        "ours_tasks_per_s": round(ours["tasks_per_s"], 1),
        "celery_tasks_per_s": round(plain["tasks_per_s"], 1),
        "ratio": round(ours["tasks_per_s"] / plain["tasks_per_s"], 3),
        "ours_inversions": ours["inversions"],
        "celery_inversions": plain["inversions"],
        "ours_inversions_beyond_window": ours["beyond_window"],
        "celery_inversions_beyond_window": plain["beyond_window"],
        "recovery_s": round(ours["recovery_s"], 2),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
