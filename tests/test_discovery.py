"""ServiceDiscovery against a real redis-server: strategies, shared state, ejection, panic."""

from __future__ import annotations

import asyncio
from collections import Counter
from contextlib import AsyncExitStack

import pytest

from coordination.errors import InvalidInputError, NotFoundError
from coordination.redis_client import CoordRedis
from coordination.registry import (
    LoadBalancingStrategy,
    ServiceDiscovery,
    ServiceInfo,
    ServiceRegistry,
    SyncServiceDiscovery,
    SyncServiceRegistry,
)
from tests.test_registry_support import (
    MakeSettings,
    discovery,
    make_settings,
    registry,
    server_now,
    wait_for,
)

__all__ = ["discovery", "make_settings", "registry"]  # fixtures used below
S = LoadBalancingStrategy


async def three(registry: ServiceRegistry, weights: tuple[int, int, int] = (1, 1, 1)) -> list[str]:
    return [
        await registry.register_service("api", "http", "127.0.0.1", 7000 + i, weight=w)
        for i, w in enumerate(weights)
    ]


async def picks(disc: ServiceDiscovery, n: int, strategy: S, failover: bool = False) -> list[str]:
    pick = disc.discover_service_with_failover if failover else disc.discover_service
    out = []
    for _ in range(n):
        info = await pick("api", strategy)
        assert info is not None
        out.append(info.service_id)
    return out


async def test_none_when_no_instance_is_alive(discovery: ServiceDiscovery) -> None:
    assert await discovery.discover_service("nobody") is None
    assert await discovery.discover_service_with_failover("nobody") is None
    with pytest.raises(NotFoundError):
        async with discovery.connection("nobody"):
            pass


@pytest.mark.parametrize("strategy", list(S))
async def test_every_strategy_only_returns_live_instances(
    registry: ServiceRegistry, discovery: ServiceDiscovery, strategy: S
) -> None:
    ids = await three(registry)
    await registry.deregister_service(ids[1])
    got = set(await picks(discovery, 30, strategy))
    assert got <= {ids[0], ids[2]} and got


async def test_round_robin_is_exact(registry: ServiceRegistry, discovery: ServiceDiscovery) -> None:
    ids = sorted(await three(registry))
    seq = await picks(discovery, 30, S.ROUND_ROBIN)
    assert Counter(seq) == dict.fromkeys(ids, 10)
    assert all(seq[i] != seq[i + 1] for i in range(len(seq) - 1))
    assert seq[:3] == seq[3:6]  # one fixed cycle


async def test_round_robin_is_shared_across_two_clients(
    make_settings: MakeSettings, redis_client: CoordRedis
) -> None:
    settings = make_settings()
    reg_a, reg_b = ServiceRegistry(settings), ServiceRegistry(settings)
    ids = await three(reg_a)
    disc_a, disc_b = ServiceDiscovery(reg_a), ServiceDiscovery(reg_b)

    async def many(disc: ServiceDiscovery) -> list[str]:
        return await picks(disc, 30, S.ROUND_ROBIN)

    got_a, got_b = await asyncio.gather(many(disc_a), many(disc_b))
    assert Counter(got_a + got_b) == dict.fromkeys(ids, 20)  # balanced together, exactly
    await reg_a.close()
    await reg_b.close()


async def test_weighted_round_robin_is_proportional_and_smooth(
    registry: ServiceRegistry, discovery: ServiceDiscovery
) -> None:
    ids = await three(registry, (1, 2, 5))
    seq = await picks(discovery, 800, S.WEIGHTED_ROUND_ROBIN)
    counts = Counter(seq)
    assert counts[ids[0]] == pytest.approx(100, abs=5)
    assert counts[ids[1]] == pytest.approx(200, abs=5)
    assert counts[ids[2]] == pytest.approx(500, abs=5)
    # smooth (nginx): the heavy one never runs more than twice in a row at 5/8
    runs = max(len(r) for r in "".join("x" if s == ids[2] else "." for s in seq).split("."))
    assert runs <= 2


async def test_weight_zero_is_drained(
    registry: ServiceRegistry, discovery: ServiceDiscovery
) -> None:
    ids = await three(registry, (0, 1, 1))
    for strategy in S:
        assert ids[0] not in await picks(discovery, 12, strategy)


async def test_random_spreads(registry: ServiceRegistry, discovery: ServiceDiscovery) -> None:
    ids = await three(registry)
    counts = Counter(await picks(discovery, 600, S.RANDOM))
    assert set(counts) == set(ids)
    assert all(120 < c < 280 for c in counts.values()), counts


async def test_least_connections_picks_the_least(
    registry: ServiceRegistry, discovery: ServiceDiscovery
) -> None:
    a, b, c = await three(registry)
    assert await discovery.acquire(a) == 1
    assert await discovery.acquire(a) == 2
    await discovery.acquire(b)
    assert set(await picks(discovery, 10, S.LEAST_CONNECTIONS)) == {c}
    await discovery.acquire(c)
    await discovery.acquire(c)
    assert set(await picks(discovery, 10, S.LEAST_CONNECTIONS)) == {b}
    assert await discovery.release(a) == 1
    assert await discovery.release(a) == 0
    assert await discovery.release(a) == 0  # never below zero
    assert set(await picks(discovery, 10, S.LEAST_CONNECTIONS)) == {a}
    with pytest.raises(NotFoundError):
        await discovery.acquire("ghost")


async def test_connection_context_manager_spreads_and_releases(
    registry: ServiceRegistry, discovery: ServiceDiscovery
) -> None:
    ids = await three(registry)
    async with AsyncExitStack() as stack:
        held = [await stack.enter_async_context(discovery.connection("api")) for _ in range(3)]
        assert {h.service_id for h in held} == set(ids)  # each open one counted
        for sid in ids:
            info = await registry.get_service(sid)
            assert info is not None and info.active_connections == 1
    for sid in ids:
        info = await registry.get_service(sid)
        assert info is not None and info.active_connections == 0 and info.requests == 1
    with pytest.raises(RuntimeError):
        async with discovery.connection("api") as failing:
            raise RuntimeError("boom")
    stats = await discovery.get_service_stats("api")
    assert stats["instances"][failing.service_id]["errors"] == 1


async def test_least_loaded_uses_reported_load(
    registry: ServiceRegistry, discovery: ServiceDiscovery
) -> None:
    a, b, c = await three(registry)
    await registry.update_heartbeat(a, load=0.9)
    await registry.update_heartbeat(b, load=0.1)
    await registry.update_heartbeat(c, load=0.5)
    assert set(await picks(discovery, 10, S.LEAST_LOADED)) == {b}


async def test_sticky_key_keeps_an_instance_until_it_leaves(
    registry: ServiceRegistry, discovery: ServiceDiscovery
) -> None:
    await three(registry)

    async def owner(key: str) -> str:
        info = await discovery.discover_service("api", S.RANDOM, key=key)
        assert info is not None
        return info.service_id

    first = {k: await owner(k) for k in (f"user-{n}" for n in range(60))}
    assert len(set(first.values())) == 3  # keys spread over the instances
    assert {k: await owner(k) for k in first} == first  # and stick
    leaving = first["user-0"]
    await registry.deregister_service(leaving)
    after = {k: await owner(k) for k in first}
    assert all(after[k] == v for k, v in first.items() if v != leaving)  # only its keys move
    assert leaving not in after.values()


async def test_failover_ejects_with_growing_time_and_recovers(
    registry: ServiceRegistry, discovery: ServiceDiscovery, redis_client: CoordRedis
) -> None:
    a, b, c = await three(registry)
    # ejection_consecutive_failures=2, base 0.3 s, max 0.7 s (fixture)
    assert await discovery.report_failure(a, 12.0) is False
    await discovery.report_success(a, 8.0)  # a success breaks the streak
    assert await discovery.report_failure(a) is False
    assert await discovery.report_failure(a) is True

    durations = []
    for expected in (0.3, 0.6, 0.7):  # base x times ejected, capped at max
        info = await registry.get_service(a)
        assert info is not None and info.ejected_until is not None
        durations.append(info.ejected_until - server_now(redis_client))
        assert durations[-1] == pytest.approx(expected, abs=0.1)
        assert a not in await picks(discovery, 9, S.ROUND_ROBIN, failover=True)
        assert a in await picks(discovery, 9, S.ROUND_ROBIN)  # plain discovery ignores ejection

        async def failover_pick() -> set[str]:
            return set(await picks(discovery, 3, S.ROUND_ROBIN, failover=True))

        await wait_for(failover_pick, lambda got: a in got, timeout=3)  # back after ejection
        if expected < 0.7:
            await discovery.report_failure(a)
            assert await discovery.report_failure(a) is True
    assert durations[0] < durations[1]

    stats = await discovery.get_service_stats("api")
    assert stats["instances"][a]["times_ejected"] == 3
    assert stats["errors"] == 7 and stats["requests"] == 8
    assert stats["avg_response_time"] == pytest.approx(10.0)
    assert {b, c} <= set(stats["instances"])


async def test_panic_returns_the_least_bad_instance_and_says_so(
    make_settings: MakeSettings, redis_client: CoordRedis, caplog: pytest.LogCaptureFixture
) -> None:
    # long ejections, so none ends while the test runs
    registry = ServiceRegistry(
        make_settings(ejection_consecutive_failures=2, ejection_base_time=30)
    )
    discovery = ServiceDiscovery(registry)
    a, b, c = await three(registry)
    for sid in (b, c):  # b, c ejected first ...
        for _ in range(2):
            await discovery.report_failure(sid)
    calm = await discovery.discover_service_with_failover("api")
    assert calm is not None and calm.service_id == a and calm.panic is False
    later = server_now(redis_client) + 0.01  # ejection times are in ms: make a's distinct
    await wait_for(lambda: asyncio.sleep(0, server_now(redis_client)), lambda t: t > later)
    for _ in range(2):  # ... a last, so its ejection ends latest
        await discovery.report_failure(a)
    panicked = await discovery.discover_service_with_failover("api")
    assert panicked is not None and panicked.panic is True
    assert panicked.service_id in (b, c)  # never the one ejected longest
    assert "panic" in caplog.text
    await registry.close()


async def test_unknown_strategy_and_bad_names_are_refused(discovery: ServiceDiscovery) -> None:
    with pytest.raises(InvalidInputError) as info:
        await discovery.discover_service("api", "fastest")
    assert info.value.field == "strategy"
    with pytest.raises(InvalidInputError) as info:
        await discovery.discover_service("")
    assert info.value.field == "service_name"
    with pytest.raises(InvalidInputError):
        await discovery.report_success("x", response_time=-1)


def test_sync_discovery_twin(make_settings: MakeSettings, redis_client: CoordRedis) -> None:
    reg = SyncServiceRegistry(make_settings())
    ids = sorted(reg.register_service("api", "http", "h", 80 + i) for i in range(2))
    disc = SyncServiceDiscovery(reg)
    seq = [disc.discover_service("api") for _ in range(4)]
    assert [s.service_id for s in seq if isinstance(s, ServiceInfo)] == ids * 2
    with disc.connection("api") as held:
        assert reg.get_service(held.service_id).active_connections == 1  # type: ignore[union-attr]
    assert disc.get_service_stats("api")["requests"] == 1
    reg.close()
