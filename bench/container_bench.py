"""Container benchmark: create+start latency per runtime, and time to heal a killed container.

Starts its own redis-server on a free port; uses the local Docker engine if one answers
(building the busybox test image if needed). Prints a table, then one JSON line of figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console
from rich.table import Table

from coordination.container import ContainerConfig, ContainerManager, ContainerStatus
from tests.docker_support import (
    IDLE_SCRIPT,
    container_settings,
    engine_error,
    ensure_test_image,
    kill_behind_our_back,
    remove_labelled_containers,
)
from tests.redis_server import RedisServer

CONTAINERS = 50
HEAL_ROUNDS = 5
HEALTH_INTERVAL = 1.0


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def config(runtime: str, agent: str) -> ContainerConfig:
    command = ["sh", "-c", IDLE_SCRIPT] if runtime == "process" else None
    return ContainerConfig(
        agent_id=agent, command=command, resources={"cpu": "500m", "memory": "64Mi"}
    )


async def start_latency(manager: ContainerManager, runtime: str) -> list[float]:
    latencies = []
    for i in range(CONTAINERS):
        began = time.perf_counter()
        cid = await manager.create_container(config(runtime, f"bench-{i}"))
        await manager.start_container(cid)
        latencies.append(time.perf_counter() - began)
    for info in await manager.list_containers():
        await manager.destroy_container(info.container_id, force=True)
    return latencies


async def heal_times(manager: ContainerManager, runtime: str) -> list[float]:
    manager.start_health_loop(HEALTH_INTERVAL)
    times = []
    try:
        for i in range(HEAL_ROUNDS):
            cid = await manager.create_container(config(runtime, f"heal-{i}"))
            await manager.start_container(cid)
            await asyncio.sleep(0.3 + 0.17 * i)  # spread the kills over the health interval
            kill_behind_our_back(runtime, (await manager.get_container_info(cid)).handle)
            began = time.perf_counter()
            while True:  # poll the record until self-healing has restarted it
                info = await manager.get_container_info(cid)
                if info.restarts >= 1 and info.status is ContainerStatus.RUNNING:
                    break
                if time.perf_counter() - began > 30:
                    raise RuntimeError(f"{runtime}: container {cid} was not healed in 30 s")
                await asyncio.sleep(0.01)
            times.append(time.perf_counter() - began)
            await manager.destroy_container(cid, force=True)
    finally:
        await manager.stop_health_loop()
    return times


async def run_runtime(url: str, runtime: str, logs: Path) -> dict[str, list[float]]:
    prefix = f"bench-{runtime}"
    settings = container_settings(
        url,
        prefix,
        logs,
        runtime=runtime,
        max_containers=CONTAINERS + 10,
        resource_limits={"cpu": "64", "memory": "64Gi"},
        health_check_interval=HEALTH_INTERVAL,
        restart_backoff_base=0.5,
        restart_backoff_max=60,
    )
    manager = ContainerManager(settings)
    await manager.initialize()
    try:
        return {
            "start": await start_latency(manager, runtime),
            "heal": await heal_times(manager, runtime),
        }
    finally:
        for info in await manager.list_containers():
            with contextlib.suppress(Exception):
                await manager.destroy_container(info.container_id, force=True)
        await manager.close()
        if runtime == "docker":
            remove_labelled_containers(f"coordination.namespace={prefix}")


async def main() -> None:
    console = Console()
    runtimes = ["process"]
    reason = engine_error()
    if reason is None:
        ensure_test_image()
        runtimes.append("docker")
    else:
        console.print(f"[yellow]Docker skipped:[/yellow] {reason}")
    results: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(Path(tmp) / "redis")
        server.start()
        try:
            for runtime in runtimes:
                results[runtime] = await run_runtime(server.url, runtime, Path(tmp) / "logs")
        finally:
            server.stop()

    table = Table(
        title=f"containers: create+start x{CONTAINERS}, heal x{HEAL_ROUNDS} (health interval {HEALTH_INTERVAL}s)"
    )
    for column in (
        "runtime",
        "start p50 (s)",
        "start p99 (s)",
        "start max (s)",
        "heal p50 (s)",
        "heal max (s)",
    ):
        table.add_column(column, justify="right")
    for runtime, data in results.items():
        start, heal = data["start"], data["heal"]
        table.add_row(
            runtime,
            f"{pct(start, 0.5):.4f}",
            f"{pct(start, 0.99):.4f}",
            f"{max(start):.4f}",
            f"{statistics.median(heal):.3f}",
            f"{max(heal):.3f}",
        )
    console.print(table)
    docker = results.get("docker")
    process = results["process"]
    figures = {
        "docker_start_p50_s": round(pct(docker["start"], 0.5), 4) if docker else None,
        "docker_start_p99_s": round(pct(docker["start"], 0.99), 4) if docker else None,
        "process_start_p50_s": round(pct(process["start"], 0.5), 4),
        "process_start_p99_s": round(pct(process["start"], 0.99), 4),
        "heal_s": round(max(statistics.median(d["heal"]) for d in results.values()), 3),
        "heal_max_s": round(max(max(d["heal"]) for d in results.values()), 3),
        "heal_docker_s": round(statistics.median(docker["heal"]), 3) if docker else None,
        "heal_process_s": round(statistics.median(process["heal"]), 3),
        "health_interval_s": HEALTH_INTERVAL,
        "containers": CONTAINERS,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    asyncio.run(main())
