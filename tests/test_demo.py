"""Issue 7: ``coord demo`` end to end (quick mode), and its parts on their own."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import psutil
import pytest

from coordination.config import Settings
from coordination.demo.http_services import HttpService
from coordination.demo.runner import DemoOptions
from coordination.demo.services import DemoServices
from coordination.demo.workload import SPECIALS, build_workload, percentile, summarize_round
from coordination.embedded import answers
from coordination.enums import SchedulingStrategy, TaskStatus
from coordination.errors import InvalidInputError
from coordination.registry import ServiceRegistry
from coordination.scheduler import TaskInfo


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _leftovers(marker: str) -> list[str]:
    """Processes whose command line still names the demo's workers."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if marker in cmdline:
            found.append(cmdline)
    return found


@pytest.mark.slow
def test_demo_quick_end_to_end(tmp_path: Path) -> None:
    out_json = tmp_path / "summary.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("COORD_")}  # nothing configured
    flower_port = _free_port()
    args = ["demo", "--quick", "--summary-json", str(out_json), "--flower-port", str(flower_port)]
    done = subprocess.run(
        [sys.executable, "-m", "coordination.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=110,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = json.loads(out_json.read_text())
    assert summary["ok"] is True and summary["problems"] == []
    assert summary["embedded_redis"] is True

    rounds = {r["strategy"]: r for r in summary["strategies"]}
    assert list(rounds) == ["priority", "weighted_round_robin"]
    work_tasks = DemoOptions(quick=True).tasks_per_round
    for name, r in rounds.items():
        assert r["tasks"] == work_tasks + len(SPECIALS), name
        assert r["statuses"]["completed"] == work_tasks + 1, (name, r["statuses"])  # + flaky
        assert r["special"]["flaky"] == {
            "status": "completed",
            "retries": 2,
            "error": "RuntimeError: flaky: failing attempt 2 of 2",
        }
        assert r["special"]["timeout"]["status"] == "timeout"
        assert r["special"]["cancel"]["status"] == "cancelled"
        assert r["special"]["broken"]["status"] == "failed" and r["failures"] == 1
        assert r["retries"] == 3  # flaky twice, broken once
        assert sum(1 for count in r["per_worker"].values() if count) > 1, r["per_worker"]
        assert sum(r["per_worker"].values()) == r["tasks"]
        assert r["latency_p50_ms"] is not None
        assert r["latency_p50_ms"] <= r["latency_p99_ms"]

    services = {s["name"]: s for s in summary["services"]}
    assert services["demo-api"]["status"] == "healthy"
    assert services["demo-billing"]["status"] == "unhealthy"
    assert services["demo-billing"]["checks_failed"] >= 3

    agents = summary["containers"]
    assert [a["strategy"] for a in agents] == list(rounds)
    assert all(a["runtime"] == "process" for a in agents)
    assert all(a["state_while_running"] == "running" for a in agents)
    assert all(a["state_at_end"] == "destroyed" for a in agents)
    assert sum(a["tasks_completed"] for a in agents) >= 1

    assert summary["flower"] == {
        "url": f"http://127.0.0.1:{flower_port}",
        "user": "admin",
        "answered": True,
    }
    assert f"Flower: http://127.0.0.1:{flower_port}" in done.stdout
    assert "password coordination" in done.stdout
    assert "Tasks run per worker" in done.stdout

    # everything it started is gone: Redis, Flower, workers and the agent containers
    assert not answers(summary["redis_url"])
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{flower_port}/healthcheck", timeout=1)
    assert _leftovers("-priority@demo") == [] and _leftovers("-weighted_round_robin@demo") == []


def test_demo_options_are_validated() -> None:
    with pytest.raises(InvalidInputError) as bad_strategy:
        DemoOptions.parse(strategies=["fifo", "fastest"])
    assert bad_strategy.value.field == "strategies"
    assert "fastest" in bad_strategy.value.reason
    with pytest.raises(InvalidInputError) as bad_tasks:
        DemoOptions.parse(work_tasks=0)
    assert bad_tasks.value.field == "work_tasks"
    assert DemoOptions().rounds == tuple(SchedulingStrategy)
    assert DemoOptions(quick=True).tasks_per_round < DemoOptions().tasks_per_round


def test_demo_cli_refuses_a_bad_strategy_before_starting_anything() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "coordination.cli", "demo", "--strategies", "fastest"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "strategies" in done.stderr and "fastest" in done.stderr


def _info(task_id: str, status: TaskStatus, worker: str | None, **extra: object) -> TaskInfo:
    return TaskInfo(
        task_id=task_id, task_name="demo.work", status=status, worker_id=worker, **extra
    )


def test_summarize_round_counts_workers_latency_and_problems() -> None:
    labels = {"w1-x@demo": "w1", "agent-x@demo": "agent"}
    tasks = [
        ("work", _info("a", TaskStatus.COMPLETED, "w1-x@demo", priority=10, submitted_at=0.0, finished_at=0.1)),
        ("work", _info("b", TaskStatus.COMPLETED, "agent-x@demo", priority=-10, submitted_at=0.0, finished_at=0.3)),
        ("flaky", _info("c", TaskStatus.COMPLETED, "w1-x@demo", retries=2)),
        ("timeout", _info("d", TaskStatus.TIMEOUT, "w1-x@demo")),
        ("cancel", _info("e", TaskStatus.CANCELLED, "agent-x@demo")),
        ("broken", _info("f", TaskStatus.FAILED, "w1-x@demo", retries=1)),
    ]  # fmt: skip
    r = summarize_round("fifo", tasks, labels, "agent-x@demo", 1.234)
    assert r.per_worker == {"agent": 2, "w1": 4}
    assert r.agent_tasks == 2
    assert (r.latency_p50_ms, r.latency_p99_ms) == (100.0, 300.0)
    assert r.priority_p50_ms == {"high": 100.0, "low": 300.0}
    assert (r.retries, r.failures, r.duration_s) == (3, 1, 1.23)
    assert r.problems == []

    tasks[3] = ("timeout", _info("d", TaskStatus.COMPLETED, "w1-x@demo"))
    tasks[2] = ("flaky", _info("c", TaskStatus.COMPLETED, "w1-x@demo", retries=0))
    problems = summarize_round("fifo", tasks, labels, None, 1.0).problems
    assert any("timeout task ended completed" in p for p in problems)
    assert any("flaky task did not go through its retries" in p for p in problems)


def test_workload_and_percentile() -> None:
    workload = build_workload(10)
    assert [role for role, _ in workload[: len(SPECIALS)]] == list(SPECIALS)
    assert len({spec["priority"] for role, spec in workload if role == "work"}) > 1
    assert percentile([], 50) is None
    assert percentile([5.0, 1.0, 3.0], 50) == 3.0
    assert percentile([float(i) for i in range(1, 101)], 99) == 99.0


def test_http_services_answer_their_status() -> None:
    ok, failing = HttpService("ok", 200).start(), HttpService("bad", 500).start()
    port = ok.port
    try:
        assert httpx.get(ok.health_url, timeout=2).status_code == 200
        assert httpx.get(failing.health_url, timeout=2).status_code == 500
    finally:
        ok.stop()
        failing.stop()
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)


async def test_demo_services_end_healthy_and_unhealthy(
    settings: Settings, redis_client: object
) -> None:
    registry = ServiceRegistry(settings)
    services = await DemoServices.start(registry)
    try:
        await services.check()
        by_name = {s.name: s for s in await services.summarize()}
    finally:
        await services.stop()
        await registry.close()
    assert by_name["demo-api"].status == "healthy" and by_name["demo-api"].checks_passed >= 1
    threshold = settings.registry.failures_before_unhealthy
    assert by_name["demo-billing"].status == "unhealthy"
    assert by_name["demo-billing"].checks_failed == threshold


README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_examples_and_commands_are_real() -> None:
    import ast
    import re

    from coordination.producer import Producer, TaskFailed

    text = README.read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) == 2
    for block in blocks:
        ast.parse(block)  # the examples are valid Python
    producer = blocks[1]
    assert 12 <= len(producer.strip().splitlines()) <= 25
    assert "producer.submit(" in producer and "producer.result(" in producer
    assert callable(Producer.submit) and issubclass(TaskFailed, Exception)
    assert "make run    # set up on a fresh machine" in text
    for bench in re.findall(r"`\.venv/bin/python (bench/\w+\.py)`", text):
        assert (README.parent / bench).is_file(), bench
    assert "compose/config.example.yaml" in text and "coord demo --keep" in text
