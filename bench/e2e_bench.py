"""End to end: plain Celery 5 vs this system on one machine and one Redis.

Each side: one worker, concurrency 2, the same no-op task, 10,000 tasks; then 200 tasks of
mixed priority queued behind a busy worker, counting priority inversions; then (ours) the
seconds from SIGKILL of a busy worker until its task starts on another worker.
Usage: .venv/bin/python bench/e2e_bench.py [--tasks 10000]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from coordination.config import Settings  # noqa: E402
from coordination.keys import Keys  # noqa: E402
from coordination.processes import celery_command, worker_args  # noqa: E402
from tests.redis_server import RedisServer  # noqa: E402

PREFIX = "bench"
INVERSION_TASKS = 200


def wait_until(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.01)
    return value


CONCURRENCY = 2


def inversions(order: list[int], window: int = 1) -> int:
    """Pairs recorded lower priority first (higher number = higher priority) at least
    ``window`` places apart. Tasks running side by side on the worker's slots finish in any
    order, so ``window=CONCURRENCY`` counts only inversions beyond the in-flight window."""
    n = len(order)
    return sum(1 for i in range(n) for j in range(i + window, n) if order[i] < order[j])


class Procs:
    def __init__(self, env: dict[str, str], log_dir: Path):
        self.env, self.log_dir, self.procs = env, log_dir, {}  # type: ignore[var-annotated]

    def start(self, name: str, command: list[str]) -> None:
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115
        self.procs[name] = subprocess.Popen(
            command, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.procs[name].pid, sig)
        self.procs[name].wait()

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.kill(name, signal.SIGTERM)


def base_env(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COORD_")}
    env.update({"BENCH_REDIS_URL": url, "PYTHONPATH": str(ROOT), "COORD_REDIS__URL": url})
    env.update({"COORD_REDIS__KEY_PREFIX": PREFIX, "COORD_CELERY__IMPORTS": '["bench.ours_tasks"]'})
    # True priorities (the seed's default strategy, fifo, ignores them on purpose).
    env["COORD_SCHEDULER__DEFAULT_STRATEGY"] = "priority"
    return env


def plain_side(url: str, n: int, log_dir: Path) -> dict[str, float]:
    os.environ["BENCH_REDIS_URL"] = url
    from bench.plain_celery_app import app, noop, record, sleep

    r = redis.Redis.from_url(url)
    procs = Procs(base_env(url), log_dir)
    cmd = [sys.executable, "-m", "celery", "-A", "bench.plain_celery_app", "worker", "-c", str(CONCURRENCY),
           "-P", "prefork", "-E", "--without-gossip", "--without-mingle", "-n", "plain@bench"]  # fmt: skip
    procs.start("plain-worker", cmd)
    try:
        noop.apply_async()
        wait_until(lambda: r.get("bench:plain:done"), 60, "plain worker ready")
        r.delete("bench:plain:done")
        began = time.perf_counter()
        with app.producer_or_acquire() as producer:
            for _ in range(n):
                noop.apply_async(producer=producer)
        wait_until(lambda: int(r.get("bench:plain:done") or 0) >= n, 600, "plain tasks")
        elapsed = time.perf_counter() - began
        # Inversions: a busy worker, then mixed priorities (Celery: 0 is the highest).
        sleep.apply_async(args=[1.0], priority=0)
        sleep.apply_async(args=[1.0], priority=0)
        time.sleep(0.3)  # let both sleepers be taken before the mixed batch lands
        rng = random.Random(7)
        prios = [rng.randint(0, 9) for _ in range(INVERSION_TASKS)]
        with app.producer_or_acquire() as producer:
            for p in prios:
                record.apply_async(args=[p], priority=9 - p, producer=producer)
        wait_until(lambda: r.llen("bench:plain:order") >= INVERSION_TASKS, 120, "plain order")
        order = [json.loads(x) for x in r.lrange("bench:plain:order", 0, -1)]
        return {
            "tasks_per_s": n / elapsed,
            "inversions": inversions(order),
            "beyond_window": inversions(order, CONCURRENCY),
        }
    finally:
        procs.stop_all()


def ours_side(url: str, n: int, log_dir: Path) -> dict[str, float]:
    from coordination.scheduler import SyncTaskScheduler

    settings = Settings.load(
        redis={"url": url, "key_prefix": PREFIX}, scheduler={"default_strategy": "priority"}
    )
    scheduler = SyncTaskScheduler(settings)
    r = redis.Redis.from_url(url)
    procs = Procs(base_env(url), log_dir)
    procs.start("w1", celery_command(*worker_args("w1@bench", CONCURRENCY, loglevel="WARNING")))
    try:
        wait_until(lambda: scheduler.list_workers(), 60, "our worker ready")
        warm = scheduler.submit_task(task_name="bench.noop")
        scheduler.wait_for_task(warm, 60)
        # Poll one counter, as the plain side does (the full stats call costs more).
        stats_key = Keys(PREFIX).scheduler.stats()
        base = int(r.hget(stats_key, "completed") or 0)
        began = time.perf_counter()
        for start in range(0, n, 500):
            scheduler.submit_tasks(
                [{"task_name": "bench.noop"} for _ in range(min(500, n - start))]
            )
        wait_until(lambda: int(r.hget(stats_key, "completed") or 0) - base >= n, 600, "our tasks")
        elapsed = time.perf_counter() - began
        # Inversions: fill both slots, then the same mixed batch (ours: higher number first).
        scheduler.submit_tasks([{"task_name": "bench.sleep", "args": [1.0], "priority": 9}] * 2)
        wait_until(lambda: r.llen("{bench}:bench:starts") >= 2, 30, "sleepers running")
        rng = random.Random(7)
        prios = [rng.randint(0, 9) for _ in range(INVERSION_TASKS)]
        scheduler.submit_tasks(
            [{"task_name": "bench.record", "args": [p], "priority": p} for p in prios]
        )
        wait_until(lambda: r.llen("{bench}:bench:order") >= INVERSION_TASKS, 120, "our order")
        order = [json.loads(x) for x in r.lrange("{bench}:bench:order", 0, -1)]
        recovery = recovery_seconds(scheduler, procs, r)
        return {
            "tasks_per_s": n / elapsed,
            "inversions": inversions(order),
            "beyond_window": inversions(order, CONCURRENCY),
            "recovery_s": recovery,
        }
    finally:
        procs.stop_all()


def recovery_seconds(scheduler: Any, procs: Procs, r: redis.Redis) -> float:
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
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(Path(tmp) / "redis")
        server.start()
        try:
            plain = plain_side(server.url, args.tasks, Path(tmp))
            ours = ours_side(server.url, args.tasks, Path(tmp))
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
