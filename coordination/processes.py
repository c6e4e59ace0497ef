"""Starting Celery worker, beat and Flower processes for the CLI, and stopping them cleanly.

Every child gets the resolved Redis URL (and the config file) through the environment, so
they all talk to the same server, embedded or configured.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from coordination.config import CONFIG_ENV_VAR, Settings

CELERY_APP = "workers.app"


def child_env(
    url: str, config_file: Path | None, extra: dict[str, str] | None = None
) -> dict[str, str]:
    env = dict(os.environ)
    env["COORD_REDIS__URL"] = url
    if config_file is not None:
        env[CONFIG_ENV_VAR] = str(config_file)
    env.update(extra or {})
    return env


def celery_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", CELERY_APP, *args]


def worker_args(
    name: str,
    concurrency: int,
    *,
    weight: int = 1,
    queues: Sequence[str] = (),
    task_types: Sequence[str] = (),
    resources: str | None = None,
    include: Sequence[str] = (),
    loglevel: str = "INFO",
    pool: str = "prefork",
) -> list[str]:
    args = [
        "worker",
        "-n", name,
        "-c", str(concurrency),
        "-P", pool,
        "--loglevel", loglevel,
        "-E",
        "--without-mingle",
        "--without-gossip",
        "--coord-weight", str(weight),
    ]  # fmt: skip
    if queues:
        args += ["--coord-queues", ",".join(queues)]
    if task_types:
        args += ["--coord-task-types", ",".join(task_types)]
    if resources:
        args += ["--coord-resources", resources]
    if include:
        args += ["--include", ",".join(include)]
    return args


def flower_args(settings: Settings, port: int | None = None) -> list[str]:
    user = settings.celery.flower_user
    password = settings.celery.flower_password.get_secret_value()
    return [
        "flower",
        f"--port={port or settings.celery.flower_port}",
        "--address=127.0.0.1",
        f"--basic-auth={user}:{password}",
    ]


def beat_args(loglevel: str = "INFO") -> list[str]:
    return ["beat", "--loglevel", loglevel]


@dataclass
class ProcessGroup:
    """Children started together and stopped together (SIGTERM, then SIGKILL after a grace).

    ``own_sessions``: each child leads a process group of its own, so ``kill`` and the end of
    ``stop`` reach its pool processes too (as when a host dies), and nothing outlives it.
    """

    env: dict[str, str]
    log_dir: Path | None = None
    own_sessions: bool = False
    children: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str, command: list[str]) -> subprocess.Popen[bytes]:
        out: int | object = subprocess.DEVNULL
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            out = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - owned by the child
        proc = subprocess.Popen(
            command,
            env=self.env,
            stdout=out,  # type: ignore[arg-type]
            stderr=subprocess.STDOUT,
            start_new_session=self.own_sessions,
        )
        self.children[name] = proc
        return proc

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Signal one child (its whole group with own_sessions) and wait for it."""
        proc = self.children[name]
        with contextlib.suppress(ProcessLookupError):
            if self.own_sessions:
                os.killpg(proc.pid, sig)
            else:
                proc.send_signal(sig)
        proc.wait()

    def exited(self) -> dict[str, int]:
        return {name: code for name, p in self.children.items() if (code := p.poll()) is not None}

    def stop(self, grace: float = 20.0) -> None:
        for proc in self.children.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in self.children.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self.own_sessions:  # nothing of a group may outlive it
            for proc in self.children.values():
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
