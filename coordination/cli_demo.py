"""``coord demo``: the whole system on this machine, a mixed workload per strategy, a summary."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from coordination.enums import SchedulingStrategy

console = Console()
# Piped or captured output (make run | tee, CI logs): wide enough for the summary tables.
if not console.is_terminal:
    console = Console(width=120)


def _strategies(raw: str | None) -> list[str] | None:
    return [s.strip() for s in raw.split(",") if s.strip()] if raw else None


def demo(
    keep: Annotated[
        bool, typer.Option("--keep", help="leave everything running until Ctrl-C")
    ] = False,
    quick: Annotated[
        bool, typer.Option("--quick", help="two workers, two strategies, fewer tasks")
    ] = False,
    strategies: Annotated[
        str | None,
        typer.Option(
            help="comma separated, default all: " + ", ".join(s.value for s in SchedulingStrategy)
        ),
    ] = None,
    tasks: Annotated[
        int | None, typer.Option(help="work tasks per strategy (default 30, --quick 12)")
    ] = None,
    flower_port: Annotated[
        int | None, typer.Option(help="default: celery.flower_port, or a free port if taken")
    ] = None,
    summary_json: Annotated[
        Path | None, typer.Option(help="also write the summary as JSON here")
    ] = None,
) -> None:
    """Run everything here (Redis, workers, beat, Flower, services, an agent container), a mixed workload per strategy, then a summary; stop it all.

    With nothing configured it uses a private embedded Redis; with ``redis.url`` set it uses
    that server under a fresh key prefix and removes its keys at the end. Exit code 0 when
    every task ended as the workload intends, 1 otherwise, 130 when interrupted.
    """
    from coordination.cli import STATE, load_settings
    from coordination.demo.runner import DemoFailed, DemoOptions, run_demo

    options = DemoOptions.parse(
        keep=keep,
        quick=quick,
        strategies=_strategies(strategies),
        work_tasks=tasks,
        flower_port=flower_port,
        summary_json=summary_json,
    )
    settings = load_settings()
    try:
        summary = asyncio.run(run_demo(options, settings, STATE.config_file, console))
    except (KeyboardInterrupt, asyncio.CancelledError):
        console.print("[yellow]demo interrupted; everything it started was stopped[/yellow]")
        raise typer.Exit(130) from None
    except DemoFailed as exc:
        console.print(f"[red]demo failed:[/red] {exc}")
        raise typer.Exit(1) from None
    raise typer.Exit(0 if summary.ok else 1)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
