"""The ``coord`` command line (typer). Each command is a thin shell over the library."""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from coordination.config import Settings, masked_dump, value_sources
from coordination.embedded import EmbeddedRedis, resolve_redis_url
from coordination.errors import CoordinationError
from coordination.keys import Keys
from coordination.redis_client import sync_client

app = typer.Typer(
    name="coord",
    help="Coordination layer: registry, scheduler and containers on Celery + Redis.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()


class State:
    config_file: Path | None = None


STATE = State()


def load_settings(**overrides: Any) -> Settings:
    return Settings.load(STATE.config_file, **overrides)


@app.callback()
def main(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="YAML settings file (or COORD_CONFIG)")
    ] = None,
) -> None:
    STATE.config_file = config


@app.command("config")
def show_config(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Show the effective settings (secrets masked) and where each value came from."""
    settings = load_settings()
    origins = value_sources(settings, STATE.config_file)
    data = masked_dump(settings)
    if as_json:
        typer.echo(json.dumps({"settings": data, "sources": origins}, indent=2))
        return
    table = Table(title="coord settings")
    for column in ("key", "value", "source"):
        table.add_column(column)
    for section, values in data.items():
        for key, value in values.items():
            if isinstance(value, dict) and key != "resource_limits":
                for sub, subval in value.items():
                    dotted = f"{section}.{key}.{sub}"
                    table.add_row(dotted, _show(subval), origins.get(dotted, "default"))
                continue
            dotted = f"{section}.{key}"
            table.add_row(dotted, _show(value), origins.get(dotted, "default"))
    console.print(table)


def _show(value: Any) -> str:
    return (
        "-"
        if value is None
        else json.dumps(value)
        if isinstance(value, dict | list)
        else str(value)
    )


@app.command("redis")
def show_redis(
    embedded: Annotated[
        bool, typer.Option("--embedded", help="start a private embedded server for this call")
    ] = False,
) -> None:
    """Show the configured or embedded Redis: address, version, memory, keys in our namespace."""
    settings = load_settings()
    with ExitStack() as stack:
        if embedded:
            server = stack.enter_context(EmbeddedRedis())
            url, kind = (
                server.url,
                f"embedded (started for this call, pid {server.process.pid if server.process else '?'})",
            )
        else:
            url, started = resolve_redis_url(settings)
            if started is not None:
                stack.callback(started.stop)
            kind = (
                "embedded"
                if started
                else ("configured" if settings.redis.url else "default address")
            )
        client = sync_client(settings, url=url)
        info = client.info()
        keys = Keys(settings.redis.key_prefix)
        count = sum(1 for _ in client.scan_iter(match=keys.pattern, count=1000))
        table = Table(title="coord redis", show_header=False)
        table.add_row("address", client.coord_url)
        table.add_row("kind", kind)
        server_name = "valkey" if "valkey_version" in info else "redis"
        table.add_row(
            "server", f"{server_name} {info.get('valkey_version') or info.get('redis_version')}"
        )
        table.add_row("memory", str(info.get("used_memory_human")))
        table.add_row("aof", "on" if info.get("aof_enabled") else "off")
        table.add_row(f"keys in {keys.base}", str(count))
        console.print(table)
        client.close()


def _register_commands() -> None:
    from coordination import cli_demo, cli_inspect, cli_run
    from coordination.cli_containers import containers_app

    cli_run.register(app)
    cli_inspect.register(app)
    cli_demo.register(app)
    app.add_typer(
        containers_app,
        name="containers",
        help="Agent containers: list, create, start, stop, logs, destroy.",
    )


_register_commands()


def run() -> None:
    """Console entry point: typed errors become one readable line and exit code 2."""
    try:
        app()
    except CoordinationError as exc:
        Console(stderr=True).print(f"[red]error:[/red] {exc}")
        raise SystemExit(2) from None


if __name__ == "__main__":
    run()
