"""`coord up` (workers + beat, Ctrl-C stops all) and the inspection commands, as a user runs them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from coordination.config import Settings
from coordination.scheduler import SyncTaskScheduler
from tests.cluster import FAST_ENV, wait_for

pytestmark = pytest.mark.slow


def coord_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COORD_")}
    env.update(FAST_ENV)
    env["COORD_REDIS__URL"] = settings.redis.url or ""
    env["COORD_REDIS__KEY_PREFIX"] = settings.redis.key_prefix
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
    return env


def coord(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "coordination.cli", *args],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_up_submit_inspect_and_ctrl_c(settings: Settings, tmp_path: Path) -> None:
    env = coord_env(settings)
    up = subprocess.Popen(
        [sys.executable, "-m", "coordination.cli", "up", "--workers", "2", "-c", "1",
         "--no-flower", "--log-dir", str(tmp_path)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    scheduler = SyncTaskScheduler(settings)
    try:
        wait_for(lambda: len(scheduler.list_workers()) == 2, 60, "two workers from coord up")
        children = psutil.Process(up.pid).children(recursive=True)
        assert len(children) >= 3  # two workers (and their pools) and beat

        submitted = coord(env, "submit", "tests.add", "--args", "[20, 22]", "--wait", "30")
        assert submitted.returncode == 0, submitted.stderr
        task_id, outcome = submitted.stdout.strip().splitlines()
        assert json.loads(outcome) == {"status": "completed", "result": 42, "error": None}

        tasks = json.loads(coord(env, "tasks", "--status", "completed", "--json").stdout)
        assert [(t["task_id"], t["result"]) for t in tasks] == [(task_id, 42)]
        assert "tasks (1)" in coord(env, "tasks").stdout  # the table form
        services = json.loads(coord(env, "services", "--type", "worker", "--json").stdout)
        assert sorted(s["metadata"]["worker_id"] for s in services) == sorted(
            w.worker_id for w in scheduler.list_workers()
        )
        stats = json.loads(coord(env, "stats", "--json").stdout)
        assert stats["scheduler"]["completed"] == 1
        assert len(stats["workers"]) == 2

        bad = coord(env, "submit", "tests.add", "--priority", "1000")
        assert bad.returncode == 2 and "priority" in bad.stderr
    finally:
        up.send_signal(signal.SIGINT)  # Ctrl-C
        output, _ = up.communicate(timeout=60)
    assert up.returncode == 0, output
    assert "stopping" in output
    assert not [p for p in children if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert scheduler.list_workers() == []  # warm shutdown deregistered both
