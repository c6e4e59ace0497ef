"""``coord containers``: list, create, start, stop, logs, destroy (and stats, heal).

Every command reads and changes the records in Redis, so it sees the containers any other
process (a ContainerManager in an application, beat's self-healing) created. Process-runtime
containers outlive the command that started them (they run in their own session).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from coordination.container import ContainerConfig, ContainerManager
from coordination.errors import InvalidInputError
from coordination.quantity import format_quantity

containers_app = typer.Typer(
    name="containers", help="Agent containers (Docker or local processes).", no_args_is_help=True
)
console = Console()
T = TypeVar("T")


def _run(job: Callable[[ContainerManager], Awaitable[T]]) -> T:
    from coordination.cli import load_settings

    async def main() -> T:
        manager = ContainerManager(load_settings())
        try:
            await manager.initialize()
            return await job(manager)
        finally:
            await manager.close()

    return asyncio.run(main())


def _pairs(items: list[str] | None, field: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise InvalidInputError(field, f"expected NAME=VALUE, got {item!r}")
        out[name] = value
    return out


@containers_app.command("list")
def list_containers(
    status: Annotated[list[str] | None, typer.Option(help="only these statuses")] = None,
    agent_id: Annotated[str | None, typer.Option()] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """List containers (every state but destroyed)."""
    filters: dict[str, Any] = {}
    if status:
        filters["status"] = status
    if agent_id:
        filters["agent_id"] = agent_id
    infos = _run(lambda m: m.list_containers(filters))
    if as_json:
        typer.echo(json.dumps([info.model_dump(mode="json") for info in infos], indent=2))
        return
    table = Table(title=f"containers ({len(infos)})")
    for column in ("id", "agent", "type", "status", "runtime", "resources", "restarts", "error"):
        table.add_column(column)
    for info in infos:
        res = ", ".join(f"{k}={format_quantity(k, v)}" for k, v in sorted(info.resources.items()))
        table.add_row(
            info.container_id,
            info.agent_id,
            info.agent_type,
            str(info.status),
            info.runtime,
            res or "-",
            str(info.restarts),
            info.error or "",
        )
    console.print(table)


@containers_app.command("create")
def create(
    agent_id: Annotated[str, typer.Argument()],
    agent_type: Annotated[str, typer.Option("--type")] = "agent",
    image: Annotated[str | None, typer.Option(help="Docker image")] = None,
    command: Annotated[str | None, typer.Option(help="command line (shell-style quoting)")] = None,
    cpu: Annotated[str | None, typer.Option(help='e.g. "500m" or "2"')] = None,
    memory: Annotated[str | None, typer.Option(help='e.g. "512Mi"')] = None,
    gpu: Annotated[str | None, typer.Option()] = None,
    env: Annotated[list[str] | None, typer.Option(help="NAME=VALUE (repeatable)")] = None,
    label: Annotated[list[str] | None, typer.Option(help="NAME=VALUE (repeatable)")] = None,
    restart_policy: Annotated[str, typer.Option(help="no | on-failure | always")] = "on-failure",
    runtime: Annotated[
        str | None, typer.Option(help="docker | process (default: settings)")
    ] = None,
    workdir: Annotated[str | None, typer.Option(help="working directory")] = None,
    start: Annotated[bool, typer.Option("--start", help="start it right away")] = False,
) -> None:
    """Create a container for an agent; prints its id."""
    resources = {k: v for k, v in (("cpu", cpu), ("memory", memory), ("gpu", gpu)) if v}
    fields: dict[str, Any] = {
        "agent_id": agent_id,
        "agent_type": agent_type,
        "image": image,
        "command": command,
        "resources": resources,
        "environment": _pairs(env, "env"),
        "labels": _pairs(label, "label"),
        "restart_policy": restart_policy,
        "runtime": runtime,
        "working_dir": workdir,
    }
    config = ContainerConfig.parse({k: v for k, v in fields.items() if v is not None})

    async def job(manager: ContainerManager) -> str:
        container_id = await manager.create_container(config)
        if start:
            await manager.start_container(container_id)
        return container_id

    typer.echo(_run(job))


@containers_app.command("start")
def start(container_id: str) -> None:
    """Start a created or stopped container."""
    _run(lambda m: m.start_container(container_id))
    typer.echo(f"{container_id} running")


@containers_app.command("stop")
def stop(
    container_id: str,
    force: Annotated[bool, typer.Option("--force", help="kill at once (SIGKILL)")] = False,
    timeout: Annotated[float | None, typer.Option(help="seconds before SIGKILL")] = None,
) -> None:
    """Stop a container: SIGTERM, then SIGKILL after the timeout."""
    _run(lambda m: m.stop_container(container_id, force=force, timeout=timeout))
    typer.echo(f"{container_id} stopped")


@containers_app.command("logs")
def logs(
    container_id: str,
    lines: Annotated[int, typer.Option("--lines", "-n")] = 100,
) -> None:
    """The last lines of a container's output."""
    typer.echo(_run(lambda m: m.get_logs(container_id, lines)), nl=False)


@containers_app.command("destroy")
def destroy(
    container_id: str,
    force: Annotated[bool, typer.Option("--force", help="kill it if it runs")] = False,
) -> None:
    """Stop (if running), release its resources and remove it."""
    _run(lambda m: m.destroy_container(container_id, force=force))
    typer.echo(f"{container_id} destroyed")


@containers_app.command("stats")
def stats() -> None:
    """Container counts, restarts, success rate and resource use (JSON)."""

    async def job(manager: ContainerManager) -> dict[str, Any]:
        data = await manager.get_container_stats()
        data["resources"] = await manager.resource_manager.get_resource_status()
        return data

    typer.echo(json.dumps(_run(job), indent=2))


@containers_app.command("heal")
def heal() -> None:
    """Run one self-healing pass on this node (what beat runs periodically)."""

    async def job(manager: ContainerManager) -> dict[str, Any]:
        return (await manager.check_health()).as_dict()

    typer.echo(json.dumps(_run(job), indent=2))
