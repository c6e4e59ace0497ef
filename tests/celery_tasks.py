"""Ordinary Celery tasks the integration tests run through the scheduler.

Each records what happened in a Redis list of the test's namespace, so a test can read which
worker ran what, in which order, and how often.
"""

from __future__ import annotations

import json
import time
from typing import Any

from workers.app import app
from workers.context import context


def runs_key() -> str:
    return "{" + context().settings.redis.key_prefix + "}:test:runs"


def record(tag: Any, worker: str) -> None:
    context().redis.rpush(runs_key(), json.dumps({"tag": tag, "worker": worker, "t": time.time()}))


@app.task(name="tests.noop")
def noop() -> None:
    return None


@app.task(name="tests.record", bind=True)
def record_task(self: Any, tag: Any, sleep: float = 0.0) -> Any:
    if sleep:
        time.sleep(sleep)
    record(tag, self.request.hostname)
    return tag


@app.task(name="tests.add")
def add(a: int, b: int) -> int:
    return a + b


@app.task(name="tests.flaky", bind=True)
def flaky(self: Any, tag: str, failures: int) -> str:
    """Fails ``failures`` times (counted in Redis), then succeeds."""
    key = "{" + context().settings.redis.key_prefix + "}:test:flaky:" + tag
    count = int(context().redis.incr(key))
    if count <= failures:
        raise RuntimeError(f"failure {count} of {failures}")
    record(tag, self.request.hostname)
    return f"ok after {count - 1} failures"


@app.task(name="tests.retrying", bind=True)
def retrying(self: Any, tag: str) -> str:
    """Asks for a retry through Celery's API the first time."""
    key = "{" + context().settings.redis.key_prefix + "}:test:retrying:" + tag
    if int(context().redis.incr(key)) == 1:
        raise self.retry(exc=RuntimeError("try again"))
    return "retried"


@app.task(name="tests.sleep", bind=True)
def sleep_task(self: Any, seconds: float, tag: str = "") -> str:
    record(f"start:{tag}", self.request.hostname)
    time.sleep(seconds)
    record(f"end:{tag}", self.request.hostname)
    return tag
