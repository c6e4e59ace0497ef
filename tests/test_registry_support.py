"""Helpers shared by the registry, discovery and health tests (no tests of its own)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import pytest

from coordination.config import Settings
from coordination.redis_client import CoordRedis
from coordination.registry import ServiceDiscovery, ServiceRegistry
from tests.polling import await_for
from tests.redis_server import RedisServer

T = TypeVar("T")
MakeSettings = Callable[..., Settings]


@pytest.fixture
def make_settings(redis_server: RedisServer, namespace: str) -> MakeSettings:
    """Settings on the session server, this test's namespace, registry overrides."""

    def make(**registry: Any) -> Settings:
        return Settings.load(
            redis={"url": redis_server.url, "key_prefix": namespace}, registry=registry
        )

    return make


@pytest.fixture
async def registry(
    make_settings: MakeSettings, redis_client: CoordRedis
) -> AsyncIterator[ServiceRegistry]:
    """A registry with fast ejection settings; redis_client cleans the namespace after."""
    reg = ServiceRegistry(
        make_settings(
            ejection_consecutive_failures=2,
            ejection_base_time=0.3,
            ejection_max_time=0.7,
            offline_retention=60,
        )
    )
    await reg.initialize()
    yield reg
    await reg.close()


@pytest.fixture
def discovery(registry: ServiceRegistry) -> ServiceDiscovery:
    return ServiceDiscovery(registry)


async def wait_for(
    probe: Callable[[], Awaitable[T]], accept: Callable[[T], bool], timeout: float = 5.0
) -> T:
    """Poll ``probe`` until ``accept`` holds (deadline, never a fixed sleep as sync)."""

    async def accepted() -> tuple[T] | None:
        value = await probe()
        return (value,) if accept(value) else None

    found: tuple[T] = await await_for(accepted, timeout, interval=0.005)
    return found[0]


def server_now(client: CoordRedis) -> float:
    sec, usec = client.time()
    return float(sec) + usec / 1e6


def namespace_keys(client: CoordRedis, pattern: str) -> list[str]:
    return sorted(client.scan_iter(match=pattern, count=1000))
