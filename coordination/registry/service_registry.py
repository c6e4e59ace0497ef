"""ServiceRegistry (asyncio) and SyncServiceRegistry: register, heartbeat, find, clean up.

An instance is one hash plus its place in a per-name sorted set scored by its expiry (Redis
server time + TTL). Reads filter by expiry, so an instance whose heartbeats stopped is
invisible the moment its TTL passes, with no sweep. ``cleanup()`` (run by beat) marks expired
instances OFFLINE, keeps them ``offline_retention`` seconds for history, then deletes them.

Statuses (``ServiceStatus``):

* UNKNOWN: registered, not checked yet. Discoverable (optimistic, as Envoy without active
  checks): a new instance takes traffic until a check says otherwise.
* HEALTHY: its checks pass. An instance registered with ``check="ttl"`` (heartbeat-only, e.g. a
  Celery worker that listens on no port) is HEALTHY while it heartbeats and is never checked.
* UNHEALTHY: ``failures_before_unhealthy`` checks failed in a row. Listed by find_services,
  not returned by discovery except in panic (no other instance left).
* OFFLINE: its TTL passed or it deregistered. Kept for the retention window, never
  discovered; a heartbeat for it fails with NotFoundError: register again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from coordination.config import Settings
from coordination.enums import ServiceStatus
from coordination.errors import NotFoundError
from coordination.redis_client import AsyncCoordRedis, CoordRedis, async_client, sync_client
from coordination.registry.models import (
    CheckMode,
    FindInput,
    HeartbeatInput,
    Registration,
    ServiceInfo,
    validate,
    validate_id,
    validate_ids,
)
from coordination.registry.operations import Op, Ops, heartbeat_reply, registry_stats
from coordination.scripts import Scripts

T = TypeVar("T")


class _RegistryBase:
    """Validation and operation building shared by both twins."""

    def __init__(self, settings: Settings | None):
        self.settings = settings or Settings.load()
        self.ops = Ops(self.settings)
        self.keys = self.ops.keys

    def _register_op(self, **values: Any) -> tuple[str, Op[str]]:
        reg: Registration = validate(Registration, **values)
        return self.ops.register(reg)

    def _heartbeat_op(
        self, service_id: str, load: float | None, connections: int | None
    ) -> Op[float]:
        hb: HeartbeatInput = validate(
            HeartbeatInput, service_id=service_id, load=load, connections=connections
        )
        return self.ops.heartbeat(hb.service_id, hb.load, hb.connections)

    def _find_op(self, **values: Any) -> Op[list[ServiceInfo]]:
        q: FindInput = validate(FindInput, **values)
        return self.ops.find(q)


class ServiceRegistry(_RegistryBase):
    """The asyncio registry. ``ServiceRegistry(settings)``; settings default to Settings.load()."""

    def __init__(self, settings: Settings | None = None, client: AsyncCoordRedis | None = None):
        super().__init__(settings)
        self.client = client or async_client(self.settings)
        self.scripts = Scripts(self.client)

    async def _run(self, op: Op[T]) -> T:
        return op.parse(await self.scripts.acall(op.script, op.keys, op.args))

    async def initialize(self) -> None:
        """Check that Redis answers (raises RedisUnavailableError otherwise)."""
        await self.client.ping()

    async def close(self) -> None:
        await self.client.aclose()

    async def register_service(
        self,
        service_name: str,
        service_type: str,
        host: str,
        port: int | None,
        health_check_url: str | None = None,
        metadata: dict[str, Any] | None = None,
        weight: int = 1,
        ttl: float | None = None,
        tags: Sequence[str] | None = None,
        service_id: str | None = None,
        *,
        check: CheckMode = "auto",
    ) -> str:
        """Register (or, with an existing ``service_id``, update) an instance; returns its id.

        ``ttl`` seconds (default ``heartbeat_timeout``): it vanishes that long after its last
        heartbeat. ``check="ttl"`` marks a heartbeat-only instance that is never probed.
        Raises InvalidInputError (nothing written) or CapacityError (``max_services``).
        """
        service_id_, op = self._register_op(
            service_name=service_name, service_type=service_type, host=host, port=port,
            health_check_url=health_check_url, metadata=metadata or {}, weight=weight, ttl=ttl,
            tags=list(tags) if tags is not None else [], service_id=service_id, check=check,
        )  # fmt: skip
        await self._run(op)
        return service_id_

    async def deregister_service(self, service_id: str) -> bool:
        """Mark OFFLINE now (kept for retention). False if unknown or already OFFLINE."""
        return await self._run(self.ops.deregister(validate_id(service_id)))

    async def update_heartbeat(
        self, service_id: str, load: float | None = None, connections: int | None = None
    ) -> float:
        """Extend the expiry from Redis time; returns the new expiry (epoch s).

        Raises NotFoundError (register again) for an unknown, expired or OFFLINE id.
        """
        return await self._run(self._heartbeat_op(service_id, load, connections))

    async def update_heartbeats(self, service_ids: Sequence[str]) -> dict[str, bool]:
        """Heartbeat many instances in one pipelined round trip: id -> still registered."""
        ids = validate_ids(service_ids)
        pipe = self.client.pipeline(transaction=False)
        for sid in ids:
            op = self.ops.heartbeat(sid)
            await self.scripts.acall(op.script, op.keys, op.args, client=pipe)
        replies = await pipe.execute(raise_on_error=False)
        return _heartbeat_results(ids, replies)

    async def get_service(self, service_id: str) -> ServiceInfo | None:
        return await self._run(self.ops.get(validate_id(service_id)))

    async def find_services(
        self,
        service_name: str | None = None,
        service_type: str | None = None,
        status: ServiceStatus | str | None = None,
        tags: Sequence[str] | None = None,
    ) -> list[ServiceInfo]:
        """Instances matching every given filter. ``status=None``: all that are not OFFLINE."""
        return await self._run(
            self._find_op(
                service_name=service_name,
                service_type=service_type,
                status=status,
                tags=list(tags) if tags is not None else None,
            )
        )

    async def get_registry_stats(self) -> dict[str, Any]:
        return registry_stats(await self._run(self.ops.everything()))

    async def cleanup(self) -> dict[str, int]:
        """Mark expired instances OFFLINE and purge those past retention (idempotent)."""
        marked = purged = 0
        more = True
        while more:
            m, p, more = await self._run(self.ops.cleanup())
            marked, purged = marked + m, purged + p
        return {"marked_offline": marked, "purged": purged}


class SyncServiceRegistry(_RegistryBase):
    """The sync twin, for Celery workers and beat. Same semantics as ServiceRegistry."""

    def __init__(self, settings: Settings | None = None, client: CoordRedis | None = None):
        super().__init__(settings)
        self.client = client or sync_client(self.settings)
        self.scripts = Scripts(self.client)

    def _run(self, op: Op[T]) -> T:
        return op.parse(self.scripts.call(op.script, op.keys, op.args))

    def initialize(self) -> None:
        self.client.ping()

    def close(self) -> None:
        self.client.close()

    def register_service(
        self,
        service_name: str,
        service_type: str,
        host: str,
        port: int | None,
        health_check_url: str | None = None,
        metadata: dict[str, Any] | None = None,
        weight: int = 1,
        ttl: float | None = None,
        tags: Sequence[str] | None = None,
        service_id: str | None = None,
        *,
        check: CheckMode = "auto",
    ) -> str:
        service_id_, op = self._register_op(
            service_name=service_name, service_type=service_type, host=host, port=port,
            health_check_url=health_check_url, metadata=metadata or {}, weight=weight, ttl=ttl,
            tags=list(tags) if tags is not None else [], service_id=service_id, check=check,
        )  # fmt: skip
        self._run(op)
        return service_id_

    def deregister_service(self, service_id: str) -> bool:
        return self._run(self.ops.deregister(validate_id(service_id)))

    def update_heartbeat(
        self, service_id: str, load: float | None = None, connections: int | None = None
    ) -> float:
        return self._run(self._heartbeat_op(service_id, load, connections))

    def update_heartbeats(self, service_ids: Sequence[str]) -> dict[str, bool]:
        ids = validate_ids(service_ids)
        pipe = self.client.pipeline(transaction=False)
        for sid in ids:
            op = self.ops.heartbeat(sid)
            self.scripts.call(op.script, op.keys, op.args, client=pipe)
        return _heartbeat_results(ids, pipe.execute(raise_on_error=False))

    def get_service(self, service_id: str) -> ServiceInfo | None:
        return self._run(self.ops.get(validate_id(service_id)))

    def find_services(
        self,
        service_name: str | None = None,
        service_type: str | None = None,
        status: ServiceStatus | str | None = None,
        tags: Sequence[str] | None = None,
    ) -> list[ServiceInfo]:
        return self._run(
            self._find_op(
                service_name=service_name,
                service_type=service_type,
                status=status,
                tags=list(tags) if tags is not None else None,
            )
        )

    def get_registry_stats(self) -> dict[str, Any]:
        return registry_stats(self._run(self.ops.everything()))

    def cleanup(self) -> dict[str, int]:
        marked = purged = 0
        more = True
        while more:
            m, p, more = self._run(self.ops.cleanup())
            marked, purged = marked + m, purged + p
        return {"marked_offline": marked, "purged": purged}


def _heartbeat_results(ids: list[str], replies: list[Any]) -> dict[str, bool]:
    out: dict[str, bool] = {}
    for sid, reply in zip(ids, replies, strict=True):
        try:
            heartbeat_reply(sid, reply)
            out[sid] = True
        except NotFoundError:
            out[sid] = False
    return out
