"""Review regressions: bad numbers are refused before the registry writes anything."""

from __future__ import annotations

import pytest

from coordination.errors import InvalidInputError
from coordination.registry import ServiceDiscovery, ServiceRegistry
from tests.test_registry_support import discovery, make_settings, registry

__all__ = ["discovery", "make_settings", "registry"]  # fixtures used below


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
async def test_non_finite_response_time_is_refused_before_any_write(
    registry: ServiceRegistry, discovery: ServiceDiscovery, bad: float
) -> None:
    sid = await registry.register_service("api", "http", "127.0.0.1", 7000)
    with pytest.raises(InvalidInputError) as err:
        await discovery.report_success(sid, bad)
    assert err.value.field == "response_time"
    with pytest.raises(InvalidInputError):
        await discovery.report_failure(sid, bad)
    info = await registry.get_service(sid)
    assert info is not None and info.requests == 0 and info.errors == 0


@pytest.mark.parametrize("ttl", [float("inf"), 1e300])
async def test_absurd_ttl_is_refused_before_any_write(
    registry: ServiceRegistry, ttl: float
) -> None:
    with pytest.raises(InvalidInputError) as err:
        await registry.register_service("api", "http", "127.0.0.1", 7000, ttl=ttl, service_id="x")
    assert err.value.field == "ttl"
    assert await registry.get_service("x") is None


@pytest.mark.parametrize("load", [float("inf")])
async def test_non_finite_load_is_refused(registry: ServiceRegistry, load: float) -> None:
    sid = await registry.register_service("api", "http", "127.0.0.1", 7000)
    with pytest.raises(InvalidInputError) as err:
        await registry.update_heartbeat(sid, load=load)
    assert err.value.field == "load"
