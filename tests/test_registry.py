"""ServiceRegistry against a real redis-server: registration, TTL expiry, cleanup, validation."""

from __future__ import annotations

import time
from typing import Any

import pytest

from coordination.errors import CapacityError, InvalidInputError, NotFoundError
from coordination.keys import Keys
from coordination.redis_client import CoordRedis
from coordination.registry import (
    LoadBalancingStrategy,
    ServiceDiscovery,
    ServiceRegistry,
    ServiceStatus,
    SyncServiceRegistry,
)
from tests.test_registry_support import (
    MakeSettings,
    discovery,
    make_settings,
    namespace_keys,
    registry,
    wait_for,
)

__all__ = ["discovery", "make_settings", "registry"]  # fixtures used below


async def test_register_get_find_and_update_same_id(registry: ServiceRegistry) -> None:
    sid = await registry.register_service(
        "api", "http", "10.0.0.1", 8080, metadata={"zone": "a"}, tags=["v1", "gpu"], weight=3
    )
    info = await registry.get_service(sid)
    assert info is not None
    assert (info.service_name, info.host, info.port, info.weight) == ("api", "10.0.0.1", 8080, 3)
    assert info.metadata == {"zone": "a"} and info.tags == ["v1", "gpu"]
    assert info.status is ServiceStatus.UNKNOWN
    assert info.expires_at - info.last_heartbeat == pytest.approx(90, abs=0.01)

    again = await registry.register_service(
        "api", "http", "10.0.0.2", 8081, service_id=sid, tags=["v2"]
    )
    assert again == sid
    found = await registry.find_services("api")
    assert [(i.service_id, i.host, i.port, i.tags) for i in found] == [
        (sid, "10.0.0.2", 8081, ["v2"])
    ]


async def test_find_filters_by_type_status_and_tags(registry: ServiceRegistry) -> None:
    a = await registry.register_service("api", "http", "h", 1, tags=["x", "y"])
    b = await registry.register_service("api", "grpc", "h", 2, tags=["x"])
    w = await registry.register_service("worker", "worker", "h", None)  # heartbeat-only
    assert {i.service_id for i in await registry.find_services()} == {a, b, w}
    assert [i.service_id for i in await registry.find_services(service_type="grpc")] == [b]
    assert [i.service_id for i in await registry.find_services(tags=["x", "y"])] == [a]
    healthy = await registry.find_services(status=ServiceStatus.HEALTHY)
    assert [i.service_id for i in healthy] == [w]  # ttl-checked: healthy while it heartbeats
    assert len(await registry.find_services("api", status="unknown")) == 2
    await registry.deregister_service(a)
    offline = await registry.find_services(status=ServiceStatus.OFFLINE)
    assert [i.service_id for i in offline] == [a]
    assert a not in {i.service_id for i in await registry.find_services("api")}


async def test_instance_vanishes_within_ttl_without_sweep_and_can_register_again(
    registry: ServiceRegistry, discovery: ServiceDiscovery
) -> None:
    sid = await registry.register_service("svc", "t", "127.0.0.1", 9000, ttl=0.4)
    expires_at = await registry.update_heartbeat(sid, load=0.2)
    assert (await discovery.discover_service("svc")) is not None
    gone = await wait_for(lambda: discovery.discover_service("svc"), lambda s: s is None)
    assert gone is None
    assert time.time() <= expires_at + 0.25  # vanished at its expiry, no cleanup ran
    assert await registry.find_services("svc") == []
    info = await registry.get_service(sid)
    assert info is not None and info.status is ServiceStatus.OFFLINE

    with pytest.raises(NotFoundError, match="register_service again"):
        await registry.update_heartbeat(sid)
    with pytest.raises(NotFoundError, match="not registered"):
        await registry.update_heartbeat("never-registered")

    assert await registry.register_service("svc", "t", "127.0.0.1", 9000, service_id=sid) == sid
    back = await discovery.discover_service("svc")
    assert back is not None and back.service_id == sid and back.status is ServiceStatus.UNKNOWN


async def test_heartbeat_extends_from_server_time(
    registry: ServiceRegistry, discovery: ServiceDiscovery
) -> None:
    sid = await registry.register_service("svc", "t", "h", 1, ttl=0.5)
    started = time.monotonic()
    while time.monotonic() - started < 1.2:  # keeps it alive well past one TTL
        await registry.update_heartbeat(sid, connections=4)
        assert (await discovery.discover_service("svc")) is not None
    info = await registry.get_service(sid)
    assert info is not None and info.connections == 4
    assert 0.3 < info.expires_at - info.last_heartbeat <= 0.5


async def test_pipelined_heartbeats_report_each_id(registry: ServiceRegistry) -> None:
    ids = [await registry.register_service("svc", "t", "h", 1000 + i) for i in range(20)]
    await registry.deregister_service(ids[3])
    result = await registry.update_heartbeats([*ids, "ghost"])
    assert result.pop("ghost") is False
    assert result.pop(ids[3]) is False
    assert all(result.values()) and len(result) == 19


async def test_cleanup_marks_offline_then_purges_leaving_no_index_behind(
    make_settings: MakeSettings, redis_client: CoordRedis, keys: Keys
) -> None:
    reg = ServiceRegistry(make_settings(offline_retention=0.3))
    disc = ServiceDiscovery(reg)
    ids = [await reg.register_service(f"n{i % 3}", "t", "h", 1 + i, ttl=0.2) for i in range(9)]
    keep = await reg.register_service("n0", "t", "h", 99, ttl=60)
    await disc.discover_service("n0")
    await disc.discover_service("n1", LoadBalancingStrategy.WEIGHTED_ROUND_ROBIN)
    await reg.deregister_service(ids[0])
    await wait_for(reg.find_services, lambda found: len(found) == 1)

    first = await reg.cleanup()
    assert first["marked_offline"] == 8  # ids[0] was already OFFLINE by deregistration
    stats = await reg.get_registry_stats()
    assert stats["offline_services"] == 9 and stats["total_services"] == 1
    assert stats["services"]["n0"]["offline"] == 3 and stats["services"]["n0"]["total"] == 1

    def swept(result: dict[str, int]) -> bool:
        return result["purged"] > 0

    total = 0
    while total < 9:
        total += (await wait_for(reg.cleanup, swept))["purged"]
    assert total == 9
    assert await reg.cleanup() == {"marked_offline": 0, "purged": 0}  # idempotent
    for sid in ids:
        assert await reg.get_service(sid) is None
    # Only the live instance and its indexes remain; everything else has a TTL or is gone.
    k = keys.registry
    left = namespace_keys(redis_client, keys.pattern)
    assert k.service(keep) in left and k.by_name("n1") not in left and k.gone() not in left
    assert redis_client.zrange(k.live(), 0, -1) == [keep]
    assert redis_client.zrange(k.by_name("n0"), 0, -1) == [keep]
    for key in left:
        if key != k.live():
            assert redis_client.pttl(key) > 0, key
    await reg.close()


async def test_max_services_refuses_and_writes_nothing(
    make_settings: MakeSettings, redis_client: CoordRedis, keys: Keys
) -> None:
    reg = ServiceRegistry(make_settings(max_services=2))
    a = await reg.register_service("s", "t", "h", 1)
    await reg.register_service("s", "t", "h", 2, ttl=0.2)
    with pytest.raises(CapacityError, match="max_services=2"):
        await reg.register_service("s", "t", "h", 3, service_id="third")
    assert redis_client.exists(keys.registry.service("third")) == 0
    assert await reg.register_service("s", "t", "h", 5, service_id=a) == a  # update still fine
    await wait_for(reg.find_services, lambda found: len(found) == 1)
    assert await reg.register_service("s", "t", "h", 3, service_id="third") == "third"
    await reg.close()


BAD_INPUTS: list[tuple[dict[str, Any], str]] = [
    ({"port": 0}, "port"),
    ({"port": 65536}, "port"),
    ({"service_name": ""}, "service_name"),
    ({"service_type": ""}, "service_type"),
    ({"service_name": "has space"}, "service_name"),
    ({"host": ""}, "host"),
    ({"health_check_url": "http//nohost"}, "health_check_url"),
    ({"health_check_url": "ftp://h/health"}, "health_check_url"),
    ({"health_check_url": "http://h:99999/health"}, "health_check_url"),
    ({"weight": -1}, "weight"),
    ({"ttl": -5}, "ttl"),
    ({"ttl": 0}, "ttl"),
    ({"tags": [""]}, "tags.0"),
    ({"metadata": {"x": object()}}, "metadata"),
    ({"service_id": "a{b}"}, "service_id"),
]


@pytest.mark.parametrize(("override", "field"), BAD_INPUTS)
async def test_bad_registration_names_the_field_and_writes_nothing(
    registry: ServiceRegistry,
    redis_client: CoordRedis,
    keys: Keys,
    override: dict[str, Any],
    field: str,
) -> None:
    args: dict[str, Any] = {"service_name": "s", "service_type": "t", "host": "h", "port": 80}
    args.update(override)
    with pytest.raises(InvalidInputError) as info:
        await registry.register_service(**args)
    assert info.value.field == field
    assert namespace_keys(redis_client, keys.pattern) == []


async def test_bad_heartbeat_and_find_inputs(registry: ServiceRegistry) -> None:
    sid = await registry.register_service("s", "t", "h", 1)
    with pytest.raises(InvalidInputError) as info:
        await registry.update_heartbeat(sid, load=-1)
    assert info.value.field == "load"
    with pytest.raises(InvalidInputError) as info:
        await registry.update_heartbeat(sid, connections=-2)
    assert info.value.field == "connections"
    with pytest.raises(InvalidInputError) as info:
        await registry.find_services(status="sleepy")
    assert info.value.field == "status"
    with pytest.raises(InvalidInputError):
        await registry.deregister_service("")


def test_sync_twin_shares_the_store(make_settings: MakeSettings, redis_client: CoordRedis) -> None:
    reg = SyncServiceRegistry(make_settings())
    reg.initialize()
    sid = reg.register_service(
        "workers", "worker", "host-1", None, metadata={"capacity": 4, "queues": ["q"]}, ttl=5
    )
    info = reg.get_service(sid)
    assert info is not None and info.check == "ttl" and info.status is ServiceStatus.HEALTHY
    assert info.metadata["queues"] == ["q"]
    assert reg.update_heartbeat(sid, load=0.5) > time.time()
    assert reg.update_heartbeats([sid, "x"]) == {sid: True, "x": False}
    assert [i.service_id for i in reg.find_services(service_type="worker")] == [sid]
    assert reg.get_registry_stats()["healthy_services"] == 1
    assert reg.deregister_service(sid) is True
    assert reg.deregister_service(sid) is False
    with pytest.raises(NotFoundError):
        reg.update_heartbeat(sid)
    assert reg.cleanup() == {"marked_offline": 0, "purged": 0}
    reg.close()


async def test_registry_stats_has_the_seed_keys(registry: ServiceRegistry) -> None:
    await registry.register_service("a", "t", "h", 1)
    await registry.register_service("a", "t", "h", 2, check="ttl")
    await registry.register_service("b", "t", "h", 3)
    stats = await registry.get_registry_stats()
    assert stats["total_services"] == 3 and stats["healthy_services"] == 1
    assert stats["unknown_services"] == 2 and stats["unhealthy_services"] == 0
    assert stats["services"]["a"] == {
        "healthy": 1,
        "unhealthy": 0,
        "unknown": 1,
        "offline": 0,
        "total": 2,
    }
