"""Fixtures shared by the scheduler tests (imported by tests/test_scheduler_*.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from coordination.config import Settings
from coordination.redis_client import CoordRedis
from coordination.scheduler import SyncTaskScheduler, TaskScheduler
from tests.polling import await_for, wait_for
from tests.redis_server import RedisServer


def make_settings(redis_server: RedisServer, namespace: str, **scheduler: Any) -> Settings:
    return Settings.load(
        redis={"url": redis_server.url, "key_prefix": namespace}, scheduler=scheduler
    )


@pytest.fixture
def scheduler_settings(
    redis_server: RedisServer, namespace: str, redis_client: CoordRedis
) -> Callable[..., Settings]:
    """Settings factory for this test's namespace (redis_client cleans the namespace after)."""
    return lambda **scheduler: make_settings(redis_server, namespace, **scheduler)


@pytest.fixture
async def sched(scheduler_settings: Callable[..., Settings]) -> AsyncIterator[TaskScheduler]:
    scheduler = TaskScheduler(scheduler_settings())
    await scheduler.initialize()
    yield scheduler
    await scheduler.close()


@pytest.fixture
def sync_sched(scheduler_settings: Callable[..., Settings]) -> Iterator[SyncTaskScheduler]:
    scheduler = SyncTaskScheduler(scheduler_settings())
    yield scheduler
    scheduler.close()


poll = wait_for  # the shared deadline polls (tests.polling)
apoll = await_for
