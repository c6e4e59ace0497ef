"""The demo's summary: one dataclass, shown as rich tables and written as JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from coordination.demo.cluster import AgentRecord, WorkerPlan
from coordination.demo.services import ServiceSummary
from coordination.demo.workload import RoundSummary


@dataclass
class FlowerInfo:
    url: str
    user: str
    password: str
    answered: bool


@dataclass
class DemoSummary:
    redis_url: str
    embedded_redis: bool
    key_prefix: str
    flower: FlowerInfo
    workers: list[WorkerPlan] = field(default_factory=list)
    strategies: list[RoundSummary] = field(default_factory=list)
    services: list[ServiceSummary] = field(default_factory=list)
    containers: list[AgentRecord] = field(default_factory=list)
    duration_s: float = 0.0
    log_dir: str = ""

    @property
    def problems(self) -> list[str]:
        found = [p for r in self.strategies for p in r.problems]
        found += [
            f"service {s.name} is {s.status}, expected {s.expected}"
            for s in self.services
            if s.status != s.expected
        ]
        return found

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["flower"].pop("password")  # never written to a file
        data["ok"], data["problems"] = self.ok, self.problems
        return data

    def write_json(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=2))


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def workers_table(rounds: list[RoundSummary], workers: list[WorkerPlan]) -> Table:
    table = Table(
        title="Tasks run per worker, per strategy",
        caption="c = concurrency (slots), wt = weight; agent = the agent container",
    )
    table.add_column("strategy")
    for w in workers:
        table.add_column(f"{w.label} c={w.concurrency} wt={w.weight}", justify="right")
    table.add_column("tasks", justify="right")
    for r in rounds:
        counts = [str(r.per_worker.get(w.label, 0)) for w in workers]
        table.add_row(r.strategy, *counts, str(r.tasks))
    return table


def outcomes_table(rounds: list[RoundSummary]) -> Table:
    table = Table(
        title="Latency (submit to end, work tasks) and outcomes, per strategy",
        caption="hi/lo = p50 of the tasks with priority > 0 / < 0",
    )
    table.add_column("strategy")
    for column in ("p50 ms", "p99 ms", "hi/lo ms", "retries", "failed", "timeout", "cancel"):
        table.add_column(column, justify="right")
    for r in rounds:
        table.add_row(
            r.strategy,
            _ms(r.latency_p50_ms),
            _ms(r.latency_p99_ms),
            f"{_ms(r.priority_p50_ms['high'])}/{_ms(r.priority_p50_ms['low'])}",
            str(r.retries),
            str(r.failures),
            str(r.statuses.get("timeout", 0)),
            str(r.statuses.get("cancelled", 0)),
        )
    return table


def services_table(services: list[ServiceSummary]) -> Table:
    table = Table(title="Registry health (HTTP checks)")
    for column in ("service", "health URL", "status", "checks ok / failed"):
        table.add_column(column)
    for s in services:
        color = "green" if s.status == "healthy" else "red"
        table.add_row(
            s.name,
            s.url,
            f"[{color}]{s.status}[/{color}]",
            f"{s.checks_passed} / {s.checks_failed}",
        )
    return table


def containers_table(agents: list[AgentRecord]) -> Table:
    table = Table(title="Agent containers (each runs `coord worker`)")
    for column in ("agent", "runtime", "while running", "at the end", "tasks run"):
        table.add_column(column)
    for a in agents:
        table.add_row(
            a.agent_id,
            a.runtime,
            a.state_while_running,
            a.state_at_end or "(still running)",
            str(a.tasks_completed),
        )
    return table


def render(summary: DemoSummary, console: Console) -> None:
    console.print(workers_table(summary.strategies, summary.workers))
    console.print(outcomes_table(summary.strategies))
    console.print(services_table(summary.services))
    console.print(containers_table(summary.containers))
    flower = summary.flower
    state = "" if flower.answered else " [yellow](did not answer)[/yellow]"
    console.print(
        f"Flower: {flower.url}  user [bold]{flower.user}[/bold]  "
        f"password [bold]{flower.password}[/bold]{state}"
    )
    redis_kind = "embedded, private" if summary.embedded_redis else "configured"
    console.print(f"Redis: {summary.redis_url} ({redis_kind}), key prefix {summary.key_prefix}")
    if summary.ok:
        console.print(
            f"[green]demo finished in {summary.duration_s:.1f} s: all as expected[/green]"
        )
    else:
        for problem in summary.problems:
            console.print(f"[red]problem:[/red] {problem}")
