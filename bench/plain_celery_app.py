"""Plain Celery, no scheduling layer: the baseline of bench/e2e_bench.py.

Same worker settings as ours (JSON, acks late, prefetch 1, task events), and Celery's best
Redis priority settings (ten priority steps, priority queue order).
"""

from __future__ import annotations

import json
import os
import time

import redis
from celery import Celery

URL = os.environ["BENCH_REDIS_URL"]
app = Celery("plain", broker=URL)
app.conf.update(
    task_serializer="json",
    accept_content=["json"],
    task_acks_late=True,
    worker_prefetch_multiplier=1,
    worker_send_task_events=True,
    task_ignore_result=True,
    broker_transport_options={
        "priority_steps": list(range(10)),
        "sep": ":",
        "queue_order_strategy": "priority",
    },
    task_default_priority=5,
    worker_hijack_root_logger=False,
)
_client: redis.Redis | None = None


def client() -> redis.Redis:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(URL)
    return _client


@app.task(name="bench.noop")
def noop() -> None:
    client().incr("bench:plain:done")


@app.task(name="bench.record")
def record(tag: int) -> None:
    client().rpush("bench:plain:order", json.dumps(tag))


@app.task(name="bench.sleep")
def sleep(seconds: float) -> None:
    time.sleep(seconds)
