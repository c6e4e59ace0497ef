# mypy: disallow-untyped-decorators=False
# (Celery's decorators are untyped, as for workers/ and beat/ in pyproject.toml.)
"""The demo's Celery tasks: ordinary ``@app.task`` functions, as a user would write them.

Workers import this module through ``celery.imports`` (the demo sets
``COORD_CELERY__IMPORTS='["coordination.demo.tasks"]'`` for every child it starts).
"""

from __future__ import annotations

import time
from typing import Any

from workers.app import app
from workers.task import scheduled_of


@app.task(name="demo.work", bind=True)
def work(self: Any, tag: str, seconds: float = 0.05) -> dict[str, str]:
    """A unit of work: sleeps a little and says who ran it."""
    time.sleep(seconds)
    return {"tag": tag, "worker": str(self.request.hostname)}


@app.task(name="demo.flaky", bind=True)
def flaky(self: Any, failures: int) -> str:
    """Raises on its first ``failures`` attempts, then succeeds (the scheduler retries it).

    The attempt number comes from the scheduler's message headers, so no extra state is needed.
    """
    scheduled = scheduled_of(self.request)
    attempt = scheduled.attempt if scheduled else failures + 1
    if attempt <= failures:
        raise RuntimeError(f"flaky: failing attempt {attempt} of {failures}")
    return f"succeeded on attempt {attempt}"


@app.task(name="demo.sleep")
def sleep(seconds: float) -> float:
    """Sleeps long: the demo gives it a short timeout, or cancels it while it runs."""
    time.sleep(seconds)
    return seconds


@app.task(name="demo.broken")
def broken() -> None:
    """Always fails: it ends FAILED (dead-lettered) once its retries are used up."""
    raise ValueError("broken: this task always fails")
