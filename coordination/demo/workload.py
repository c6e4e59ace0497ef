"""The demo's workload and what a finished round adds up to (pure functions, no I/O).

Each round submits the same mix: many short ``demo.work`` tasks over a spread of priorities,
plus one task of each special kind: ``flaky`` fails twice then succeeds on retry, ``timeout``
sleeps past its 1 s timeout, ``cancel`` is cancelled while it runs, ``broken`` always fails
and is dead-lettered after its retry.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from coordination.enums import TaskStatus
from coordination.scheduler import TaskInfo

PRIORITIES = (-50, -10, 0, 10, 50)
FLAKY_FAILURES = 2

# role -> (submission, the status it must end in)
SPECIALS: dict[str, tuple[dict[str, Any], TaskStatus]] = {
    "cancel": (
        {"task_name": "demo.sleep", "args": [60], "priority": 100, "max_retries": 0},
        TaskStatus.CANCELLED,
    ),
    "timeout": (
        {"task_name": "demo.sleep", "args": [60], "priority": 90, "timeout": 1, "max_retries": 0},
        TaskStatus.TIMEOUT,
    ),
    "flaky": (
        {"task_name": "demo.flaky", "args": [FLAKY_FAILURES], "priority": 20, "max_retries": 3},
        TaskStatus.COMPLETED,
    ),
    "broken": ({"task_name": "demo.broken", "max_retries": 1}, TaskStatus.FAILED),
}


def work_spec(index: int) -> dict[str, Any]:
    return {
        "task_name": "demo.work",
        "args": [f"job-{index}", 0.05 + (index % 4) * 0.05],
        "priority": PRIORITIES[index % len(PRIORITIES)],
    }


def build_workload(work_tasks: int) -> list[tuple[str, dict[str, Any]]]:
    """(role, submission) pairs: the special tasks first, then ``work_tasks`` work tasks."""
    specials = [(role, dict(spec)) for role, (spec, _) in SPECIALS.items()]
    return specials + [("work", work_spec(i)) for i in range(work_tasks)]


def percentile(values: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def _latency(info: TaskInfo) -> float | None:
    if info.finished_at is None:
        return None
    return info.finished_at - info.submitted_at


@dataclass
class RoundSummary:
    """One strategy's round, as the summary table and the JSON show it."""

    strategy: str
    tasks: int
    statuses: dict[str, int]
    per_worker: dict[str, int]
    retries: int
    failures: int
    latency_p50_ms: float | None
    latency_p99_ms: float | None
    priority_p50_ms: dict[str, float | None]
    special: dict[str, dict[str, Any]]
    agent_tasks: int
    duration_s: float = 0.0
    problems: list[str] = field(default_factory=list)


def summarize_round(
    strategy: str,
    tasks: Sequence[tuple[str, TaskInfo]],
    labels: Mapping[str, str],
    agent_worker: str | None,
    duration_s: float,
) -> RoundSummary:
    """Fold the final task records of one round (``labels``: worker id -> short name).

    ``per_worker`` counts every task where it (last) ran, whatever its end, so the slots the
    special tasks held show too; latencies are of the completed work tasks.
    """
    statuses = Counter(info.status.value for _, info in tasks)
    ran = [info.worker_id for _, info in tasks if info.worker_id]  # where each last ran
    per_worker = Counter(labels.get(worker_id, worker_id) for worker_id in ran)
    work = [info for role, info in tasks if role == "work" and info.status is TaskStatus.COMPLETED]
    latencies = [v for v in map(_latency, work) if v is not None]
    high = [v for i in work if i.priority > 0 and (v := _latency(i)) is not None]
    low = [v for i in work if i.priority < 0 and (v := _latency(i)) is not None]
    special = {
        role: {"status": info.status.value, "retries": info.retries, "error": info.error}
        for role, info in tasks
        if role in SPECIALS
    }
    summary = RoundSummary(
        strategy=strategy,
        tasks=len(tasks),
        statuses=dict(statuses),
        per_worker=dict(sorted(per_worker.items())),
        retries=sum(info.retries for _, info in tasks),
        failures=statuses.get(TaskStatus.FAILED.value, 0),
        latency_p50_ms=_ms(percentile(latencies, 50)),
        latency_p99_ms=_ms(percentile(latencies, 99)),
        priority_p50_ms={"high": _ms(percentile(high, 50)), "low": _ms(percentile(low, 50))},
        special=special,
        agent_tasks=sum(1 for worker_id in ran if agent_worker and worker_id == agent_worker),
        duration_s=round(duration_s, 2),
    )
    summary.problems = round_problems(summary, tasks)
    return summary


def round_problems(summary: RoundSummary, tasks: Sequence[tuple[str, TaskInfo]]) -> list[str]:
    """What did not end as the workload intends (empty when the round went as planned)."""
    problems = []
    for role, (_, expected) in SPECIALS.items():
        got = summary.special.get(role, {}).get("status")
        if got != expected.value:
            problems.append(f"{summary.strategy}: {role} task ended {got}, expected {expected}")
    if summary.special.get("flaky", {}).get("retries", 0) < FLAKY_FAILURES:
        problems.append(f"{summary.strategy}: flaky task did not go through its retries")
    unfinished = [
        i.task_id for r, i in tasks if r == "work" and i.status is not TaskStatus.COMPLETED
    ]
    if unfinished:
        problems.append(f"{summary.strategy}: {len(unfinished)} work tasks did not complete")
    return problems
