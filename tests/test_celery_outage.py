"""Redis goes away mid-task and comes back (same port, data kept by its AOF): the running
task's report waits for it, nothing is lost, and the task is not run twice."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from coordination.config import Settings
from coordination.enums import TaskStatus
from coordination.redis_client import sync_client
from coordination.scheduler import SyncTaskScheduler
from tests.cluster import Cluster, wait_for
from tests.redis_server import RedisServer

pytestmark = pytest.mark.slow


@pytest.fixture
def cluster(private_redis: RedisServer, tmp_path: Path) -> Iterator[Cluster]:
    settings = Settings.load(redis={"url": private_redis.url, "key_prefix": "outage"})
    c = Cluster(settings, tmp_path)
    c.extra_env["COORD_SCHEDULER__WORKER_TTL"] = "15"  # the outage must not look like death
    yield c
    c.stop()


def starts(cluster: Cluster, tag: str) -> int:
    key = "{" + cluster.settings.redis.key_prefix + "}:test:runs"
    runs = [json.loads(x) for x in sync_client(cluster.settings).lrange(key, 0, -1)]
    return sum(1 for r in runs if r["tag"] == f"start:{tag}")


def test_task_survives_a_redis_restart(cluster: Cluster, private_redis: RedisServer) -> None:
    cluster.worker("w1", concurrency=1)
    scheduler = SyncTaskScheduler(cluster.settings)
    task_id = scheduler.submit_task(task_name="tests.sleep", args=[4, "r"])
    wait_for(lambda: starts(cluster, "r") == 1, 10, "task start")
    private_redis.stop()  # graceful: the AOF is complete
    time.sleep(1.5)  # the outage itself: what is tested is that the task outlives it
    private_redis.start()
    info = scheduler.wait_for_task(task_id, timeout=60)
    assert info.status is TaskStatus.COMPLETED, (info, cluster.log("w1")[-3000:])
    assert info.attempt == 1
    assert starts(cluster, "r") == 1
    # the worker is back in business after the outage
    after = scheduler.submit_task(task_name="tests.add", args=[1, 2])
    assert scheduler.wait_for_task(after, timeout=60).result == 3
