"""``coord worker``, ``coord beat``, ``coord flower`` and ``coord up``."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from coordination.config import Settings
from coordination.embedded import resolve_redis_url
from coordination.processes import (
    ProcessGroup,
    beat_args,
    celery_command,
    child_env,
    flower_args,
    worker_args,
)

console = Console()


def resolved_env(
    stack: ExitStack, settings: Settings, config_file: Path | None
) -> tuple[str, dict[str, str]]:
    url, started = resolve_redis_url(settings)
    if started is not None:
        console.print(f"[cyan]embedded Redis[/cyan] started at {url}")
        stack.callback(started.stop)
    return url, child_env(url, config_file)


def run_foreground(command: list[str], env: dict[str, str]) -> int:
    """Run one child in the foreground; Ctrl-C / SIGTERM reach it and we wait for it."""
    proc = subprocess.Popen(command, env=env)

    def forward(signum: int, _frame: object) -> None:
        if proc.poll() is None:
            proc.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    return proc.wait()


def worker(
    name: Annotated[
        str | None, typer.Option(help="worker name, unique in the cluster (default: w<pid>@<host>)")
    ] = None,
    concurrency: Annotated[
        int | None, typer.Option("-c", "--concurrency", help="pool size = slots")
    ] = None,
    queues: Annotated[
        str, typer.Option(help="scheduler queues served, comma separated")
    ] = "default",
    weight: Annotated[int, typer.Option(help="weight for weighted round robin")] = 1,
    resources: Annotated[str | None, typer.Option(help="e.g. cpu=2,memory=4Gi,gpu=1")] = None,
    task_types: Annotated[str | None, typer.Option(help="task types served (default: all)")] = None,
    include: Annotated[
        str | None, typer.Option(help="modules with your tasks, comma separated")
    ] = None,
    pool: Annotated[str, typer.Option(help="Celery pool: prefork, threads or solo")] = "prefork",
    loglevel: Annotated[str, typer.Option()] = "INFO",
) -> None:
    """Run a Celery worker that registers with the scheduler and takes tasks."""
    from coordination.cli import STATE, load_settings

    settings = load_settings()
    host = socket.gethostname()
    args = worker_args(
        name or f"w{os.getpid()}@{host}",
        concurrency or settings.celery.worker_concurrency,
        weight=weight,
        queues=[q for q in queues.split(",") if q],
        task_types=[t for t in (task_types or "").split(",") if t],
        resources=resources,
        include=[m for m in (include or "").split(",") if m],
        loglevel=loglevel,
        pool=pool,
    )
    with ExitStack() as stack:
        _, env = resolved_env(stack, settings, STATE.config_file)
        code = run_foreground(celery_command(*args), env)
    raise typer.Exit(code)


def beat(loglevel: Annotated[str, typer.Option()] = "INFO") -> None:
    """Run celery beat (one leader at a time; start several for failover)."""
    from coordination.cli import STATE, load_settings

    with ExitStack() as stack:
        _, env = resolved_env(stack, load_settings(), STATE.config_file)
        code = run_foreground(celery_command(*beat_args(loglevel)), env)
    raise typer.Exit(code)


def flower(
    port: Annotated[int | None, typer.Option(help="default: celery.flower_port")] = None,
) -> None:
    """Run Flower against the same broker, with basic auth from the settings."""
    from coordination.cli import STATE, load_settings

    settings = load_settings()
    with ExitStack() as stack:
        _, env = resolved_env(stack, settings, STATE.config_file)
        console.print(
            f"Flower on http://127.0.0.1:{port or settings.celery.flower_port} "
            f"(user {settings.celery.flower_user})"
        )
        code = run_foreground(celery_command(*flower_args(settings, port)), env)
    raise typer.Exit(code)


def up(
    workers: Annotated[int, typer.Option(help="number of workers")] = 2,
    concurrency: Annotated[int | None, typer.Option("-c", "--concurrency")] = None,
    include: Annotated[str | None, typer.Option(help="modules with your tasks")] = None,
    flower_port: Annotated[int | None, typer.Option(help="default: celery.flower_port")] = None,
    no_flower: Annotated[bool, typer.Option("--no-flower")] = False,
    log_dir: Annotated[Path, typer.Option(help="where the children write their logs")] = Path(
        ".coord-logs"
    ),
) -> None:
    """Workers + beat + Flower on the embedded or configured Redis; Ctrl-C stops them all."""
    from coordination.cli import STATE, load_settings

    settings = load_settings()
    host = socket.gethostname()
    with ExitStack() as stack:
        url, env = resolved_env(stack, settings, STATE.config_file)
        group = ProcessGroup(env, log_dir)
        stack.callback(group.stop)
        mods = [m for m in (include or "").split(",") if m]
        for n in range(1, workers + 1):
            args = worker_args(
                f"w{n}@{host}", concurrency or settings.celery.worker_concurrency, include=mods
            )
            group.start(f"worker-{n}", celery_command(*args))
        group.start("beat", celery_command(*beat_args()))
        if not no_flower:
            group.start("flower", celery_command(*flower_args(settings, flower_port)))
            console.print(
                f"Flower: http://127.0.0.1:{flower_port or settings.celery.flower_port} "
                f"(user {settings.celery.flower_user}, password from celery.flower_password)"
            )
        console.print(
            f"{workers} workers, beat{'' if no_flower else ', Flower'} on {url}; logs in {log_dir}. Ctrl-C stops all."
        )
        stop = {"now": False}

        def on_signal(_signum: int, _frame: object) -> None:
            stop["now"] = True

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        while not stop["now"]:
            dead = group.exited()
            if dead:
                console.print(f"[red]exited:[/red] {dead}; stopping the rest")
                break
            time.sleep(0.5)
        console.print("stopping…")


def register(app: typer.Typer) -> None:
    app.command("worker")(worker)
    app.command("beat")(beat)
    app.command("flower")(flower)
    app.command("up")(up)
