"""Shared fixtures: a real redis-server per session, a clean namespace per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from coordination.config import Settings
from coordination.keys import Keys
from coordination.redis_client import AsyncCoordRedis, CoordRedis, async_client, sync_client
from tests.redis_server import RedisServer


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One real redis-server for the whole session. Tests that stop it use ``private_redis``."""
    server = RedisServer(tmp_path_factory.mktemp("redis-session"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own, for fault tests that stop or kill it."""
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def namespace() -> str:
    return "t" + uuid.uuid4().hex[:12]


@pytest.fixture
def settings(redis_server: RedisServer, namespace: str) -> Settings:
    """Settings pointing at the session server, under a key prefix unique to this test."""
    return Settings.load(redis={"url": redis_server.url, "key_prefix": namespace})


@pytest.fixture
def keys(settings: Settings) -> Keys:
    return Keys(settings.redis.key_prefix)


@pytest.fixture
def redis_client(settings: Settings, keys: Keys) -> Iterator[CoordRedis]:
    client = sync_client(settings)
    yield client
    for key in client.scan_iter(match=keys.pattern, count=1000):
        client.delete(key)
    client.close()


@pytest.fixture
async def aredis(settings: Settings) -> AsyncIterator[AsyncCoordRedis]:
    client = async_client(settings)
    yield client
    await client.aclose()
