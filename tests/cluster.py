"""Real Celery worker, beat and Flower processes for integration tests."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coordination.config import Settings
from coordination.processes import beat_args, celery_command, flower_args, worker_args
from tests.polling import wait_for

FAST_ENV = {
    # Fast failure detection for tests: heartbeat every 0.5 s, dead after 2 s.
    "COORD_CELERY__HEARTBEAT_INTERVAL": "0.5",
    "COORD_SCHEDULER__WORKER_TTL": "2",
    "COORD_CELERY__DISPATCH_INTERVAL": "0.5",
    "COORD_CELERY__TIMEOUT_GRACE": "2",
    "COORD_CELERY__BEAT_LOCK_TIMEOUT": "3",
    "COORD_CELERY__BEAT_MAX_LOOP_INTERVAL": "0.5",
    "COORD_SCHEDULER__TASK_TIMEOUT_CHECK_INTERVAL": "1",
    "COORD_SCHEDULER__START_TIMEOUT": "5",
    "COORD_CELERY__IMPORTS": json.dumps(["tests.celery_tasks"]),
}


@dataclass
class Cluster:
    settings: Settings
    log_dir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("COORD_")}
        env.update(FAST_ENV)
        env["COORD_REDIS__URL"] = self.settings.redis.url or ""
        env["COORD_REDIS__KEY_PREFIX"] = self.settings.redis.key_prefix
        env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
        env.update(self.extra_env)
        return env

    def _spawn(self, name: str, command: list[str]) -> subprocess.Popen[bytes]:
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        # Own process group: killing it takes the pool children too (like a host dying).
        proc = subprocess.Popen(
            command, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.procs[name] = proc
        return proc

    def worker(self, name: str, concurrency: int = 1, *, wait: bool = True, **options: Any) -> str:
        worker_id = f"{name}@test"
        args = worker_args(worker_id, concurrency, loglevel="INFO", **options)
        self._spawn(name, celery_command(*args))
        if wait:
            self.wait_worker(worker_id)
        return worker_id

    def wait_worker(self, worker_id: str, timeout: float = 30) -> None:
        from coordination.scheduler import SyncTaskScheduler

        scheduler = SyncTaskScheduler(self.settings)
        wait_for(
            lambda: any(w.worker_id == worker_id for w in scheduler.list_workers()),
            timeout,
            f"worker {worker_id} to register (log: {self.log_dir / worker_id.split('@')[0]}.log)",
        )

    def beat(self, name: str = "beat") -> subprocess.Popen[bytes]:
        return self._spawn(name, celery_command(*beat_args("INFO")))

    def flower(self, port: int) -> subprocess.Popen[bytes]:
        return self._spawn("flower", celery_command(*flower_args(self.settings, port)))

    def kill(self, name: str) -> None:
        """SIGKILL the process and its pool children at once."""
        proc = self.procs[name]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def log(self, name: str) -> str:
        path = self.log_dir / f"{name}.log"
        return path.read_text() if path.exists() else ""

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in self.procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for proc in self.procs.values():  # nothing of the group may outlive the test
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
