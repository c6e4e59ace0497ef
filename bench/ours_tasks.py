"""The same no-op, record and sleep tasks on the coordination app (bench/e2e_bench.py)."""

from __future__ import annotations

import json
import time
from typing import Any

from workers.app import app
from workers.context import context


def _key(name: str) -> str:
    return "{" + context().settings.redis.key_prefix + "}:bench:" + name


@app.task(name="bench.noop")
def noop() -> None:
    return None


@app.task(name="bench.record")
def record(tag: int) -> None:
    context().redis.rpush(_key("order"), json.dumps(tag))


@app.task(name="bench.sleep", bind=True)
def sleep(self: Any, seconds: float) -> None:
    context().redis.rpush(_key("starts"), json.dumps([self.request.hostname, time.time()]))
    time.sleep(seconds)
