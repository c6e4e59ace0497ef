"""Real Celery worker, beat and Flower processes for integration tests."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coordination.config import Settings
from coordination.processes import (
    ProcessGroup,
    beat_args,
    celery_command,
    flower_args,
    worker_args,
)
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
    group: ProcessGroup = field(init=False)

    def __post_init__(self) -> None:
        self.group = ProcessGroup({}, self.log_dir, own_sessions=True)

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
        # Own process groups: a kill takes the pool children too (like a host dying).
        self.group.env = self.env  # extra_env may have changed since the last spawn
        return self.group.start(name, command)

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
        self.group.kill(name)

    def log(self, name: str) -> str:
        path = self.log_dir / f"{name}.log"
        return path.read_text() if path.exists() else ""

    def stop(self) -> None:
        self.group.stop(grace=15)
