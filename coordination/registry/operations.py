"""Registry operations: each builds one script call (name, KEYS, ARGV) and parses its reply.

The sync and async classes only execute these, so the logic exists once. Every state change
is one Lua script (coordination/lua/svc_*.lua); time comes from Redis TIME inside it.
"""

from __future__ import annotations

import json
import logging
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import ValidationError

from coordination.config import Settings
from coordination.enums import ServiceStatus
from coordination.errors import CapacityError, NotFoundError, ScriptError
from coordination.keys import Keys
from coordination.registry.models import (
    DiscoverInput,
    FindInput,
    Registration,
    ServiceInfo,
    from_hash,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
STATE_TTL_MS = 24 * 3600 * 1000  # discovery state (round-robin counters) of an idle name
CLEANUP_BATCH = 500


@dataclass(frozen=True)
class Op(Generic[T]):
    script: str
    keys: list[str]
    args: list[Any]
    parse: Callable[[Any], T]


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


class Ops:
    """Builds the operations for one namespace and one set of settings."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.cfg = settings.registry
        self.keys = Keys(settings.redis.key_prefix)
        self.k = self.keys.registry

    @property
    def retention_ms(self) -> int:
        return _ms(self.cfg.offline_retention)

    # -- writes ---------------------------------------------------------------------------

    def register(self, reg: Registration) -> tuple[str, Op[str]]:
        service_id = reg.service_id or f"{reg.service_name}-{uuid.uuid4().hex[:12]}"
        ttl = reg.ttl if reg.ttl is not None else self.cfg.heartbeat_timeout
        check = reg.effective_check
        initial = ServiceStatus.HEALTHY if check == "ttl" else ServiceStatus.UNKNOWN
        args = [
            service_id, reg.service_name, reg.service_type, reg.host, reg.port or "",
            reg.health_check_url or "", json.dumps(reg.metadata), reg.weight,
            json.dumps(reg.tags), check, _ms(ttl), self.cfg.max_services,
            self.retention_ms, initial.value,
        ]  # fmt: skip

        def parse(reply: list[Any]) -> str:
            if reply[0] == "capacity":
                raise CapacityError(
                    f"registry is full: {reply[1]} live instances (max_services="
                    f"{self.cfg.max_services}); nothing was registered"
                )
            return service_id

        keys = [self.k.service_base(), self.k.by_name_base(), self.k.live(), self.k.gone()]
        return service_id, Op("svc_register", keys, args, parse)

    def heartbeat(
        self, service_id: str, load: float | None = None, connections: int | None = None
    ) -> Op[float]:
        keys = [self.k.service_base(), self.k.by_name_base(), self.k.live()]
        args = [
            service_id,
            "" if load is None else repr(float(load)),
            "" if connections is None else int(connections),
            self.retention_ms,
        ]

        def parse(reply: list[Any]) -> float:
            return heartbeat_reply(service_id, reply)

        return Op("svc_heartbeat", keys, args, parse)

    def deregister(self, service_id: str) -> Op[bool]:
        keys = [self.k.service_base(), self.k.by_name_base(), self.k.live(), self.k.gone()]
        return Op("svc_deregister", keys, [service_id, self.retention_ms], lambda r: r == 1)

    def cleanup(self) -> Op[tuple[int, int, bool]]:
        keys = [
            self.k.service_base(), self.k.by_name_base(), self.k.live(), self.k.gone(),
            self.k.history_base(),
        ]  # fmt: skip
        return Op(
            "svc_cleanup",
            keys,
            [self.retention_ms, CLEANUP_BATCH],
            lambda r: (int(r[0]), int(r[1]), r[2] == 1),
        )

    def connections(self, service_id: str, delta: int) -> Op[int]:
        def parse(reply: int) -> int:
            if reply < 0:
                raise NotFoundError(f"service {service_id!r} is not registered")
            return int(reply)

        return Op("svc_connections", [self.k.service(service_id)], [delta], parse)

    def outcome(self, service_id: str, ok: bool, response_time_ms: float | None) -> Op[bool]:
        """Record a request outcome; the parsed reply says whether it ejected the instance."""
        cfg = self.cfg
        args = [
            1 if ok else 0,
            "" if response_time_ms is None else repr(float(response_time_ms)),
            cfg.ejection_consecutive_failures,
            _ms(cfg.ejection_base_time),
            _ms(cfg.ejection_max_time),
        ]

        def parse(reply: list[Any]) -> bool:
            if reply[0] == -1:
                raise NotFoundError(f"service {service_id!r} is not registered")
            return bool(reply[0] == 1)

        return Op("svc_outcome", [self.k.service(service_id)], args, parse)

    def check_result(
        self, service_id: str, ok: bool, response_time_ms: float, error: str
    ) -> Op[tuple[ServiceStatus, ServiceStatus] | None]:
        cfg = self.cfg
        keys = [self.k.service(service_id), self.k.history(service_id)]
        args = [
            1 if ok else 0, round(response_time_ms, 3), error[:500],
            cfg.failures_before_unhealthy, cfg.successes_before_healthy, cfg.history_size,
        ]  # fmt: skip

        def parse(reply: list[Any]) -> tuple[ServiceStatus, ServiceStatus] | None:
            if reply[0] == "gone":
                return None
            return ServiceStatus(reply[0]), ServiceStatus(reply[1])

        return Op("svc_check_result", keys, args, parse)

    # -- reads ----------------------------------------------------------------------------

    def get(self, service_id: str) -> Op[ServiceInfo | None]:
        def parse(reply: list[Any]) -> ServiceInfo | None:
            infos = parse_infos(int(reply[0]), reply[1:])
            return infos[0] if infos else None

        return Op("svc_get", [self.k.service_base()], [service_id], parse)

    def find(self, q: FindInput) -> Op[list[ServiceInfo]]:
        """Instances matching the query. status=None: every live one (not OFFLINE)."""
        want_offline = q.status is ServiceStatus.OFFLINE
        mode = "all" if want_offline else "live"
        index = self.k.by_name(q.service_name) if q.service_name else self.k.live()
        keys = [self.k.service_base(), index, self.k.gone()]
        args = [mode, "0" if q.service_name else "1"]

        def parse(reply: list[Any]) -> list[ServiceInfo]:
            return [i for i in parse_infos(int(reply[0]), reply[1:]) if matches(i, q)]

        return Op("svc_find", keys, args, parse)

    def everything(self, service_name: str | None = None) -> Op[list[ServiceInfo]]:
        """Every instance still on record (live, expired, OFFLINE-retained)."""
        index = self.k.by_name(service_name) if service_name else self.k.live()
        keys = [self.k.service_base(), index, self.k.gone()]
        args = ["all", "0" if service_name else "1"]
        return Op("svc_find", keys, args, lambda r: parse_infos(int(r[0]), r[1:]))

    def discover(self, q: DiscoverInput, failover: bool) -> Op[ServiceInfo | None]:
        name = q.service_name
        keys = [
            self.k.by_name(name), self.k.service_base(), self.k.round_robin(name),
            self.k.weighted(name),
        ]  # fmt: skip
        args = [
            q.strategy.value, repr(random.random()), 1 if failover else 0, q.key or "",
            STATE_TTL_MS,
        ]  # fmt: skip
        return Op("svc_discover", keys, args, parse_discovery)


def heartbeat_reply(service_id: str, reply: Any) -> float:
    """Expiry (epoch seconds) from a heartbeat reply, or NotFoundError telling to re-register."""
    if isinstance(reply, Exception):
        raise ScriptError(f"svc_heartbeat: {reply}")
    if reply[0] == "ok":
        return int(reply[1]) / 1000.0
    why = "is not registered" if reply[0] == "unknown" else "has expired or is OFFLINE"
    raise NotFoundError(
        f"service {service_id!r} {why}; call register_service again to rejoin the registry"
    )


def parse_discovery(reply: list[Any]) -> ServiceInfo | None:
    if not reply:
        return None
    panic = reply[0] == 1
    info = from_hash(reply[1], 0, panic=panic)  # chosen from live ones: skip the expiry test
    if panic:
        log.warning(
            "discovery panic for %s: no healthy instance left, returning least-bad %s",
            info.service_name,
            info.service_id,
        )
    return info


def parse_infos(now_ms: int, hashes: list[list[str]]) -> list[ServiceInfo]:
    """Parse stored hashes; malformed records are logged and skipped, never fatal."""
    out: list[ServiceInfo] = []
    for flat in hashes:
        if not flat:
            continue
        try:
            out.append(from_hash(flat, now_ms))
        except (KeyError, ValueError, TypeError, ValidationError) as exc:
            log.error("skipping malformed service record %r: %s", flat[:2], exc)
    return out


def matches(info: ServiceInfo, q: FindInput) -> bool:
    if q.service_name is not None and info.service_name != q.service_name:
        return False
    if q.service_type is not None and info.service_type != q.service_type:
        return False
    if q.status is not None and info.status is not q.status:
        return False
    if q.status is None and info.status is ServiceStatus.OFFLINE:
        return False
    return not q.tags or set(q.tags) <= set(info.tags)


def registry_stats(infos: list[ServiceInfo]) -> dict[str, Any]:
    """The seed's keys (healthy_services, total_services) plus per-status and per-name counts."""
    names: dict[str, dict[str, int]] = {}
    totals = dict.fromkeys(ServiceStatus, 0)
    for info in infos:
        totals[info.status] += 1
        per = names.setdefault(info.service_name, {s.value: 0 for s in ServiceStatus})
        per[info.status.value] += 1
    for per in names.values():
        per["total"] = sum(v for k, v in per.items() if k != ServiceStatus.OFFLINE.value)
    live = sum(v for s, v in totals.items() if s is not ServiceStatus.OFFLINE)
    return {
        "total_services": live,
        "healthy_services": totals[ServiceStatus.HEALTHY],
        "unhealthy_services": totals[ServiceStatus.UNHEALTHY],
        "unknown_services": totals[ServiceStatus.UNKNOWN],
        "offline_services": totals[ServiceStatus.OFFLINE],
        "service_names": len({i.service_name for i in infos if i.status != "offline"}),
        "services": names,
    }
