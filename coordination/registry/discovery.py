"""ServiceDiscovery: pick an instance by load-balancing strategy, with failover.

Every pick is one Lua script (one round trip) that reads the name's live instances and
chooses among them; round-robin counters and smooth weighted round-robin weights live in
Redis, so many producers balance together.

* ROUND_ROBIN: a shared counter over the candidates sorted by id.
* RANDOM: uniform.
* WEIGHTED_ROUND_ROBIN: smooth weighted round robin (nginx): proportional and interleaved.
* LEAST_CONNECTIONS: fewest connections held through acquire/release (``connection()``),
  then fewest reported by heartbeat; ties at random.
* LEAST_LOADED: lowest load reported by heartbeat, then fewest held connections.
* ``key=...``: sticky pick by rendezvous hashing (the same key goes to the same instance while
  it lives; when one leaves, only its keys move). The strategy is then ignored.

Candidates are live (TTL not passed) and HEALTHY or UNKNOWN; weight 0 means drained. With
failover, instances ejected by ``report_failure`` are skipped too. When no candidate is left but
some instance is alive, discovery panics: it returns the least-bad one with ``panic=True`` and
logs a warning, rather than nothing. With no live instance at all it returns None.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from coordination.enums import LoadBalancingStrategy, ServiceStatus
from coordination.errors import InvalidInputError, NotFoundError
from coordination.registry.models import DiscoverInput, ServiceInfo, validate, validate_id
from coordination.registry.operations import Op, Ops
from coordination.registry.service_registry import ServiceRegistry, SyncServiceRegistry

Strategy = LoadBalancingStrategy | str


def _discover_input(name: str, strategy: Strategy, key: str | None) -> DiscoverInput:
    result: DiscoverInput = validate(DiscoverInput, service_name=name, strategy=strategy, key=key)
    return result


def _outcome_op(ops: Ops, service_id: str, ok: bool, response_time: float | None) -> Op[bool]:
    if response_time is not None and not (math.isfinite(response_time) and response_time >= 0):
        raise InvalidInputError("response_time", "must be a finite number >= 0 (milliseconds)")
    return ops.outcome(validate_id(service_id), ok, response_time)


def service_stats(name: str, infos: list[ServiceInfo]) -> dict[str, Any]:
    """Totals and per-instance counts of the outcomes reported for one name."""
    now = time.time()
    per: dict[str, dict[str, Any]] = {}
    for i in infos:
        per[i.service_id] = {
            "status": i.status.value,
            "requests": i.requests,
            "errors": i.errors,
            "avg_response_time": _avg(i.response_time_sum_ms, i.response_time_count),
            "active_connections": i.active_connections,
            "ejected": i.is_ejected(now),
            "ejected_until": i.ejected_until,
            "times_ejected": i.times_ejected,
        }
    requests = sum(i.requests for i in infos)
    errors = sum(i.errors for i in infos)
    live = [i for i in infos if i.status is not ServiceStatus.OFFLINE]
    return {
        "service_name": name,
        "total_instances": len(live),
        "healthy_instances": sum(i.status is ServiceStatus.HEALTHY for i in live),
        "ejected_instances": sum(i.is_ejected(now) for i in live),
        "requests": requests,
        "errors": errors,
        "error_rate": errors / requests if requests else 0.0,
        "avg_response_time": _avg(
            sum(i.response_time_sum_ms for i in infos), sum(i.response_time_count for i in infos)
        ),
        "instances": per,
    }


def _avg(total: float, count: int) -> float:
    return total / count if count else 0.0


class ServiceDiscovery:
    """``ServiceDiscovery(registry)`` over an asyncio ServiceRegistry."""

    def __init__(self, registry: ServiceRegistry):
        self.registry = registry
        self.ops = registry.ops

    async def _run(self, op: Op[Any]) -> Any:
        return await self.registry._run(op)

    async def discover_service(
        self,
        service_name: str,
        strategy: Strategy = LoadBalancingStrategy.ROUND_ROBIN,
        key: str | None = None,
    ) -> ServiceInfo | None:
        """One live, healthy-or-unknown instance, or None when no instance is alive."""
        info: ServiceInfo | None = await self._run(
            self.ops.discover(_discover_input(service_name, strategy, key), failover=False)
        )
        return info

    async def discover_service_with_failover(
        self,
        service_name: str,
        strategy: Strategy = LoadBalancingStrategy.ROUND_ROBIN,
        key: str | None = None,
    ) -> ServiceInfo | None:
        """Like discover_service, also skipping instances ejected after reported failures."""
        info: ServiceInfo | None = await self._run(
            self.ops.discover(_discover_input(service_name, strategy, key), failover=True)
        )
        return info

    async def report_success(self, service_id: str, response_time: float | None = None) -> None:
        """Record a successful request (``response_time`` in ms); resets the failure streak."""
        await self._run(_outcome_op(self.ops, service_id, True, response_time))

    async def report_failure(self, service_id: str, response_time: float | None = None) -> bool:
        """Record a failed request; True if it ejected the instance from failover discovery."""
        ejected: bool = await self._run(_outcome_op(self.ops, service_id, False, response_time))
        return ejected

    async def acquire(self, service_id: str) -> int:
        """Count one more open connection to the instance (LEAST_CONNECTIONS); returns count."""
        count: int = await self._run(self.ops.connections(validate_id(service_id), 1))
        return count

    async def release(self, service_id: str) -> int:
        count: int = await self._run(self.ops.connections(validate_id(service_id), -1))
        return count

    @asynccontextmanager
    async def connection(
        self,
        service_name: str,
        strategy: Strategy = LoadBalancingStrategy.LEAST_CONNECTIONS,
        *,
        failover: bool = True,
        report: bool = True,
    ) -> AsyncIterator[ServiceInfo]:
        """Pick, acquire, yield, release. With ``report``, the outcome and latency are recorded
        (an exception in the block counts as a failure). NotFoundError if none is alive."""
        pick = self.discover_service_with_failover if failover else self.discover_service
        info = await pick(service_name, strategy)
        if info is None:
            raise NotFoundError(f"no live instance of service {service_name!r}")
        await self.acquire(info.service_id)
        started = time.perf_counter()
        ok = False
        try:
            yield info
            ok = True
        finally:
            elapsed = (time.perf_counter() - started) * 1000
            try:
                if report:
                    await self._run(_outcome_op(self.ops, info.service_id, ok, elapsed))
            finally:
                await self._release_quietly(info.service_id)

    async def _release_quietly(self, service_id: str) -> None:
        with contextlib.suppress(NotFoundError):  # purged meanwhile: nothing to release
            await self.release(service_id)

    async def get_service_stats(self, service_name: str) -> dict[str, Any]:
        q = _discover_input(service_name, LoadBalancingStrategy.ROUND_ROBIN, None)
        infos: list[ServiceInfo] = await self._run(self.ops.everything(q.service_name))
        return service_stats(q.service_name, infos)


class SyncServiceDiscovery:
    """The sync twin over a SyncServiceRegistry (for Celery producers)."""

    def __init__(self, registry: SyncServiceRegistry):
        self.registry = registry
        self.ops = registry.ops

    def _run(self, op: Op[Any]) -> Any:
        return self.registry._run(op)

    def discover_service(
        self,
        service_name: str,
        strategy: Strategy = LoadBalancingStrategy.ROUND_ROBIN,
        key: str | None = None,
    ) -> ServiceInfo | None:
        info: ServiceInfo | None = self._run(
            self.ops.discover(_discover_input(service_name, strategy, key), failover=False)
        )
        return info

    def discover_service_with_failover(
        self,
        service_name: str,
        strategy: Strategy = LoadBalancingStrategy.ROUND_ROBIN,
        key: str | None = None,
    ) -> ServiceInfo | None:
        info: ServiceInfo | None = self._run(
            self.ops.discover(_discover_input(service_name, strategy, key), failover=True)
        )
        return info

    def report_success(self, service_id: str, response_time: float | None = None) -> None:
        self._run(_outcome_op(self.ops, service_id, True, response_time))

    def report_failure(self, service_id: str, response_time: float | None = None) -> bool:
        ejected: bool = self._run(_outcome_op(self.ops, service_id, False, response_time))
        return ejected

    def acquire(self, service_id: str) -> int:
        count: int = self._run(self.ops.connections(validate_id(service_id), 1))
        return count

    def release(self, service_id: str) -> int:
        count: int = self._run(self.ops.connections(validate_id(service_id), -1))
        return count

    @contextmanager
    def connection(
        self,
        service_name: str,
        strategy: Strategy = LoadBalancingStrategy.LEAST_CONNECTIONS,
        *,
        failover: bool = True,
        report: bool = True,
    ) -> Iterator[ServiceInfo]:
        pick = self.discover_service_with_failover if failover else self.discover_service
        info = pick(service_name, strategy)
        if info is None:
            raise NotFoundError(f"no live instance of service {service_name!r}")
        self.acquire(info.service_id)
        started = time.perf_counter()
        ok = False
        try:
            yield info
            ok = True
        finally:
            elapsed = (time.perf_counter() - started) * 1000
            try:
                if report:
                    self._run(_outcome_op(self.ops, info.service_id, ok, elapsed))
            finally:
                with contextlib.suppress(NotFoundError):  # purged meanwhile
                    self.release(info.service_id)

    def get_service_stats(self, service_name: str) -> dict[str, Any]:
        q = _discover_input(service_name, LoadBalancingStrategy.ROUND_ROBIN, None)
        infos: list[ServiceInfo] = self._run(self.ops.everything(q.service_name))
        return service_stats(q.service_name, infos)
