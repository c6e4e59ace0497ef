"""HealthChecker against real HTTP and TCP servers on loopback and a real redis-server."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from coordination.config import Settings
from coordination.errors import InvalidInputError
from coordination.redis_client import CoordRedis
from coordination.registry import (
    HealthChecker,
    LoadBalancingStrategy,
    ServiceDiscovery,
    ServiceInfo,
    ServiceRegistry,
    ServiceStatus,
)
from tests.test_registry_support import MakeSettings, make_settings, wait_for

__all__ = ["make_settings"]  # fixture used below


class HttpService:
    """A real HTTP server in a thread; ``status`` is what /health answers."""

    def __init__(self) -> None:
        self.status = 200
        self.hits = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.hits += 1
                self.send_response(owner.status if self.path == "/health" else 404)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/health"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def http_service() -> Iterator[HttpService]:
    service = HttpService()
    yield service
    if service.thread.is_alive():
        service.stop()


async def tcp_server() -> asyncio.Server:
    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    return await asyncio.start_server(accept, "127.0.0.1", 0)


def port_of(server: asyncio.Server) -> int:
    return int(server.sockets[0].getsockname()[1])


@pytest.fixture
def fast_settings(make_settings: MakeSettings) -> Settings:
    return make_settings(
        failures_before_unhealthy=2,
        successes_before_healthy=2,
        health_check_timeout=0.5,
        history_size=5,
        health_check_interval=0.05,
    )


@pytest.fixture
async def checker(
    fast_settings: Settings, redis_client: CoordRedis
) -> AsyncIterator[HealthChecker]:
    registry = ServiceRegistry(fast_settings)
    hc = HealthChecker(registry)
    await hc.initialize()
    yield hc
    await hc.close()
    await registry.close()


async def status_of(checker: HealthChecker, sid: str) -> ServiceStatus:
    info = await checker.registry.get_service(sid)
    assert info is not None
    return info.status


async def test_http_check_follows_a_real_server(
    checker: HealthChecker, http_service: HttpService
) -> None:
    reg = checker.registry
    sid = await reg.register_service(
        "web", "http", "127.0.0.1", http_service.port, health_check_url=http_service.url
    )
    summary = await checker.run_once()
    assert summary["checked"] == 1 and summary["passed"] == 1
    assert summary["changed"] == [{"service_id": sid, "from": "unknown", "to": "healthy"}]
    assert http_service.hits == 1

    http_service.status = 503  # answers, but not 2xx
    await checker.run_once()
    assert await status_of(checker, sid) is ServiceStatus.HEALTHY  # one failure: not yet
    await checker.run_once()
    assert await status_of(checker, sid) is ServiceStatus.UNHEALTHY
    assert (await checker.get_health_history(sid, limit=1))[0].error == "HTTP 503"

    http_service.status = 200
    http_service.stop()  # now it does not answer at all
    await checker.run_once()
    assert await status_of(checker, sid) is ServiceStatus.UNHEALTHY
    assert "Connect" in (await checker.get_health_history(sid, limit=1))[0].error


async def test_tcp_check_when_only_host_and_port(checker: HealthChecker) -> None:
    server = await tcp_server()
    port = port_of(server)
    sid = await checker.registry.register_service("db", "tcp", "127.0.0.1", port)
    await checker.run_once()
    assert await status_of(checker, sid) is ServiceStatus.HEALTHY
    server.close()
    await server.wait_closed()
    for _ in range(2):
        await checker.run_once()
    assert await status_of(checker, sid) is ServiceStatus.UNHEALTHY
    history = await checker.get_health_history(sid)
    assert [h.healthy for h in history] == [False, False, True]  # newest first

    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", port)
    await checker.run_once()
    assert await status_of(checker, sid) is ServiceStatus.UNHEALTHY  # 1 of 2 successes
    await checker.run_once()
    assert await status_of(checker, sid) is ServiceStatus.HEALTHY
    server.close()
    await server.wait_closed()


async def test_flap_thresholds_and_discovery_exclusion(checker: HealthChecker) -> None:
    reg = checker.registry
    disc = ServiceDiscovery(reg)
    state = {"ok": True}

    async def probe(info: ServiceInfo) -> bool:
        return state["ok"]

    await checker.register_custom_health_check("flappy", probe)
    sid = await reg.register_service("flappy", "x", "10.255.255.1", 1)  # custom beats TCP
    other = await reg.register_service("flappy", "x", "10.255.255.1", 2, check="ttl")
    seen = []
    for ok in (True, False, True, False, True, False, False):
        state["ok"] = ok
        await checker.run_once()
        seen.append(await status_of(checker, sid))
    H, U = ServiceStatus.HEALTHY, ServiceStatus.UNHEALTHY
    assert seen == [H, H, H, H, H, H, U]  # alternating results never flip it
    picked = {(await disc.discover_service("flappy")).service_id for _ in range(6)}  # type: ignore[union-attr]
    assert picked == {other}  # UNHEALTHY is not discovered while another is left
    for ok in (True, False, True, True):
        state["ok"] = ok
        await checker.run_once()
        seen.append(await status_of(checker, sid))
    assert seen[-4:] == [U, U, U, H]
    assert await status_of(checker, other) is ServiceStatus.HEALTHY  # ttl: never probed


async def test_only_unhealthy_left_is_discovered_in_panic(checker: HealthChecker) -> None:
    reg = checker.registry

    await checker.register_custom_health_check("down", lambda info: False)  # sync fn works too
    sid = await reg.register_service("down", "x", "h", 1)
    for _ in range(2):
        await checker.run_once()
    assert await status_of(checker, sid) is ServiceStatus.UNHEALTHY
    got = await ServiceDiscovery(reg).discover_service("down", LoadBalancingStrategy.RANDOM)
    assert got is not None and got.service_id == sid and got.panic is True


async def test_timeout_and_concurrency_limit(
    make_settings: MakeSettings, redis_client: CoordRedis
) -> None:
    reg = ServiceRegistry(make_settings(health_check_timeout=0.3, health_check_concurrency=3))
    checker = HealthChecker(reg)
    await checker.initialize()
    in_flight, peak = 0, 0
    hang = asyncio.Event()  # never set: the slow service hangs until the timeout

    async def slow(info: ServiceInfo) -> bool:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        try:
            await hang.wait()
        finally:
            in_flight -= 1
        return True

    async def fast(info: ServiceInfo) -> bool:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.02)  # simulated work, so overlapping checks can be counted
        in_flight -= 1
        return True

    await checker.register_custom_health_check("slow", slow)
    await checker.register_custom_health_check("fast", fast)
    slow_id = await reg.register_service("slow", "x", "h", 1)
    fast_ids = [await reg.register_service("fast", "x", "h", 10 + i) for i in range(9)]
    summary = await checker.run_once()
    assert summary["checked"] == 10 and summary["passed"] == 9
    assert summary["duration_s"] < 2.0  # the hanging one cost one timeout, not a stall
    assert peak == 3  # the limit, reached and never passed
    assert [await status_of(checker, i) for i in fast_ids] == [ServiceStatus.HEALTHY] * 9
    assert (await checker.get_health_history(slow_id))[0].error == "timed out"
    await checker.close()
    await reg.close()


async def test_history_is_capped_newest_first(checker: HealthChecker) -> None:
    await checker.register_custom_health_check("h", lambda info: True)
    sid = await checker.registry.register_service("h", "x", "h", 1)
    for _ in range(8):
        await checker.run_once()
    history = await checker.get_health_history(sid, limit=50)
    assert len(history) == 5  # history_size
    stamps = [h.timestamp for h in history]
    assert stamps == sorted(stamps, reverse=True)
    assert len(await checker.get_health_history(sid, limit=2)) == 2
    with pytest.raises(InvalidInputError):
        await checker.get_health_history(sid, limit=0)


async def test_start_stop_loop_checks_periodically(
    checker: HealthChecker, http_service: HttpService
) -> None:
    sid = await checker.registry.register_service(
        "web", "http", "127.0.0.1", http_service.port, health_check_url=http_service.url
    )
    await checker.start()
    await wait_for(lambda: checker.get_health_history(sid), lambda h: len(h) >= 3)
    await checker.stop()
    assert await status_of(checker, sid) is ServiceStatus.HEALTHY
    assert http_service.hits >= 3
    assert checker._task is None  # stopped: no more rounds are scheduled


async def test_results_for_vanished_instances_are_dropped(checker: HealthChecker) -> None:
    reg = checker.registry
    gate, started = asyncio.Event(), asyncio.Event()

    async def wait_then_fail(info: ServiceInfo) -> bool:
        started.set()
        await gate.wait()
        return False

    await checker.register_custom_health_check("brief", wait_then_fail)
    sid = await reg.register_service("brief", "x", "h", 1)
    round_ = asyncio.create_task(checker.run_once())
    await asyncio.wait_for(started.wait(), 5)  # the check is in flight ...
    await reg.deregister_service(sid)  # ... when the instance leaves
    gate.set()
    await round_
    info = await reg.get_service(sid)
    assert info is not None and info.status is ServiceStatus.OFFLINE  # not revived by the result
    assert await checker.get_health_history(sid) == []
