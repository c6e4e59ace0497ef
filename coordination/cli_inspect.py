"""``coord submit``, ``coord tasks``, ``coord services`` and ``coord stats`` (rich tables)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from coordination.enums import ServiceStatus, TaskStatus
from coordination.errors import InvalidInputError

console = Console()


def _json_arg(raw: str | None, field: str, kind: type) -> Any:
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(field, f"not JSON: {exc}") from None
    if not isinstance(value, kind):
        raise InvalidInputError(field, f"must be a JSON {kind.__name__}")
    return value


def submit(
    task_name: Annotated[str, typer.Argument(help="the Celery task name")],
    args: Annotated[str | None, typer.Option(help="JSON list")] = None,
    kwargs: Annotated[str | None, typer.Option(help="JSON object")] = None,
    priority: Annotated[int, typer.Option()] = 0,
    queue: Annotated[str, typer.Option()] = "default",
    task_type: Annotated[str, typer.Option()] = "default",
    timeout: Annotated[float | None, typer.Option(help="seconds")] = None,
    max_retries: Annotated[int | None, typer.Option()] = None,
    countdown: Annotated[
        float | None, typer.Option(help="start no sooner than this many seconds")
    ] = None,
    wait: Annotated[
        float | None, typer.Option(help="wait this many seconds for the result")
    ] = None,
) -> None:
    """Submit a task to the scheduler (and optionally wait for its result)."""
    from coordination.cli import load_settings
    from coordination.scheduler import SyncTaskScheduler

    scheduler = SyncTaskScheduler(load_settings())
    task_id = scheduler.submit_task(
        task_name=task_name,
        task_type=task_type,
        priority=priority,
        timeout=timeout,
        args=_json_arg(args, "args", list),
        kwargs=_json_arg(kwargs, "kwargs", dict),
        queue=queue,
        max_retries=max_retries,
        countdown=countdown,
    )
    typer.echo(task_id)
    if wait is not None:
        info = scheduler.wait_for_task(task_id, wait)
        typer.echo(
            json.dumps({"status": info.status.value, "result": info.result, "error": info.error})
        )
        if info.status is not TaskStatus.COMPLETED:
            raise typer.Exit(1)


def tasks(
    status: Annotated[TaskStatus | None, typer.Option(help="filter by status")] = None,
    queue: Annotated[str | None, typer.Option()] = None,
    limit: Annotated[int, typer.Option()] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """List tasks."""
    from coordination.cli import load_settings
    from coordination.scheduler import SyncTaskScheduler

    rows = SyncTaskScheduler(load_settings()).list_tasks(status=status, queue=queue, limit=limit)
    if as_json:
        typer.echo(json.dumps([t.model_dump(mode="json") for t in rows], indent=2))
        return
    table = Table(title=f"tasks ({len(rows)})")
    table.add_column("id", overflow="fold")  # ids are copied into other commands: never cut
    for col in ("name", "queue", "prio", "status", "attempt", "worker", "time (s)", "error"):
        table.add_column(col)
    for t in rows:
        table.add_row(
            t.task_id, t.task_name, t.queue, str(t.priority), t.status.value, str(t.attempt),
            t.worker_id or "-", f"{t.execution_time:.3f}" if t.execution_time else "-",
            (t.error or "")[:60],
        )  # fmt: skip
    console.print(table)


def services(
    name: Annotated[str | None, typer.Option(help="service name")] = None,
    service_type: Annotated[str | None, typer.Option("--type")] = None,
    status: Annotated[ServiceStatus | None, typer.Option()] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """List registered service instances (workers included)."""
    from coordination.cli import load_settings
    from coordination.registry import SyncServiceRegistry

    found = SyncServiceRegistry(load_settings()).find_services(
        service_name=name, service_type=service_type, status=status
    )
    if as_json:
        typer.echo(json.dumps([s.model_dump(mode="json") for s in found], indent=2))
        return
    table = Table(title=f"services ({len(found)})")
    table.add_column("id", overflow="fold")
    for col in ("name", "type", "address", "status", "weight", "load", "conns"):
        table.add_column(col)
    for s in found:
        address = f"{s.host}:{s.port}" if s.port else s.host
        table.add_row(
            s.service_id, s.service_name, s.service_type, address, s.status.value,
            str(s.weight), f"{s.load:.2f}" if s.load is not None else "-", str(s.connections),
        )  # fmt: skip
    console.print(table)


def stats(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Scheduler, worker and registry statistics."""
    from coordination.cli import load_settings
    from coordination.registry import SyncServiceRegistry
    from coordination.scheduler import SyncTaskScheduler

    settings = load_settings()
    scheduler = SyncTaskScheduler(settings)
    data: dict[str, Any] = {
        "scheduler": scheduler.get_scheduler_stats(),
        "registry": SyncServiceRegistry(settings).get_registry_stats(),
        "workers": [w.model_dump(mode="json") for w in scheduler.list_workers()],
    }
    if as_json:
        typer.echo(json.dumps(data, indent=2, default=str))
        return
    for section in ("scheduler", "registry"):
        table = Table(title=section, show_header=False)
        for key, value in data[section].items():
            table.add_row(
                key,
                json.dumps(value, default=str) if isinstance(value, dict | list) else str(value),
            )
        console.print(table)
    workers = Table(title=f"workers ({len(data['workers'])})")
    for col in ("worker", "capacity", "inflight", "weight", "queues", "draining"):
        workers.add_column(col)
    for w in scheduler.list_workers():
        workers.add_row(
            w.worker_id,
            str(w.capacity),
            str(w.inflight),
            str(w.weight),
            ",".join(w.queues),
            str(w.draining),
        )
    console.print(workers)


def register(app: typer.Typer) -> None:
    app.command("submit")(submit)
    app.command("tasks")(tasks)
    app.command("services")(services)
    app.command("stats")(stats)
