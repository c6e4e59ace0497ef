"""Pydantic models of the registry: validated inputs and the ServiceInfo read model.

Inputs are validated before anything is written; a bad one raises InvalidInputError naming
the field. Instances are stored as flat Redis hashes with short field names; ``from_hash``
turns one back into a ServiceInfo.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from coordination.enums import LoadBalancingStrategy, ServiceStatus
from coordination.errors import InvalidInputError

# Names and ids end up inside key names: printable, no whitespace or braces (hash tag).
_NAME_RE = re.compile(r"^[^\s{}]{1,200}$")
CheckMode = Literal["auto", "ttl"]
Name = Annotated[str, Field(min_length=1, max_length=200)]
# Scripts compute expiry in ms as Lua doubles and pass it to PEXPIREAT: keep it an exact integer.
MAX_TTL_SECONDS = 10 * 365 * 86400.0


def _check_name(value: str) -> str:
    if not _NAME_RE.fullmatch(value):
        raise ValueError("must be 1-200 characters without whitespace or braces")
    return value


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Registration(_Input):
    """Arguments of register_service, validated."""

    service_name: Name
    service_type: Name
    host: Annotated[str, Field(min_length=1, max_length=255)]
    port: Annotated[int, Field(ge=1, le=65535)] | None
    health_check_url: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    weight: Annotated[int, Field(ge=0, le=1_000_000)] = 1
    ttl: Annotated[float, Field(gt=0, le=MAX_TTL_SECONDS, allow_inf_nan=False)] | None = None
    tags: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(default_factory=list)
    service_id: Name | None = None
    check: CheckMode = "auto"

    @property
    def effective_check(self) -> CheckMode:
        """Nothing to probe (no port, no URL): the heartbeat is the only liveness signal."""
        if self.port is None and self.health_check_url is None:
            return "ttl"
        return self.check

    @field_validator("service_name", "service_type", "service_id")
    @classmethod
    def _names(cls, value: str | None) -> str | None:
        return None if value is None else _check_name(value)

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        if any(c.isspace() for c in value) or "/" in value:
            raise ValueError("must be a hostname or IP address")
        return value

    @field_validator("health_check_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            parts = urlsplit(value)
            _ = parts.port
        except ValueError as exc:
            raise ValueError(f"malformed URL: {exc}") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host")
        return value

    @field_validator("metadata")
    @classmethod
    def _metadata(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            json.dumps(value)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"must be JSON-serialisable: {exc}") from None
        return value


class HeartbeatInput(_Input):
    service_id: Name
    load: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    connections: Annotated[int, Field(ge=0)] | None = None


class FindInput(_Input):
    service_name: Name | None = None
    service_type: Name | None = None
    status: ServiceStatus | None = None
    tags: list[str] | None = None


class DiscoverInput(_Input):
    service_name: Name
    strategy: LoadBalancingStrategy = LoadBalancingStrategy.ROUND_ROBIN
    key: Annotated[str, Field(min_length=1, max_length=1000)] | None = None


def validate(model: type[_Input], prefix: str = "", **values: Any) -> Any:
    """Build ``model`` or raise InvalidInputError naming the first bad field."""
    try:
        return model(**values)
    except ValidationError as exc:
        raise InvalidInputError.from_pydantic(exc, prefix) from None


def validate_id(service_id: Any, field: str = "service_id") -> str:
    if not isinstance(service_id, str) or not _NAME_RE.fullmatch(service_id):
        raise InvalidInputError(field, "must be a non-empty id without whitespace or braces")
    return service_id


def validate_ids(ids: Sequence[str]) -> list[str]:
    return [validate_id(i, f"service_ids[{n}]") for n, i in enumerate(ids)]


class ServiceInfo(BaseModel):
    """One registered service instance as read from Redis. Times are epoch seconds."""

    model_config = ConfigDict(frozen=True)

    service_id: str
    service_name: str
    service_type: str
    host: str
    port: int | None = None
    health_check_url: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    weight: int = 1
    tags: list[str] = Field(default_factory=list)
    check: CheckMode = "auto"
    status: ServiceStatus = ServiceStatus.UNKNOWN
    load: float = 0.0
    connections: int = Field(0, description="connection count the instance last reported")
    active_connections: int = Field(0, description="connections held through acquire/release")
    ttl: float = 0.0
    registered_at: float = 0.0
    last_heartbeat: float = 0.0
    expires_at: float = 0.0
    last_check_at: float | None = None
    consecutive_failures: int = 0
    consecutive_successes: int = 0
    ejected_until: float | None = None
    times_ejected: int = 0
    offline_at: float | None = None
    requests: int = Field(0, description="outcomes reported through discovery")
    errors: int = 0
    response_time_sum_ms: float = 0.0
    response_time_count: int = 0
    panic: bool = Field(
        False, description="set by discovery when no healthy candidate was left (least-bad pick)"
    )

    @property
    def address(self) -> str:
        return self.host if self.port is None else f"{self.host}:{self.port}"

    def is_ejected(self, now: float) -> bool:
        return self.ejected_until is not None and self.ejected_until > now


def _secs(raw: str | None) -> float | None:
    return None if raw in (None, "") else int(float(raw)) / 1000.0


def from_hash(flat: list[str] | dict[str, str], now_ms: int, panic: bool = False) -> ServiceInfo:
    """A ServiceInfo from a stored hash. Status is OFFLINE once the expiry has passed."""
    h = flat if isinstance(flat, dict) else dict(zip(flat[::2], flat[1::2], strict=True))
    exp_ms = int(h.get("exp_at", "0"))
    status = h.get("status", ServiceStatus.UNKNOWN.value)
    if exp_ms <= now_ms:
        status = ServiceStatus.OFFLINE.value
    ej = _secs(h.get("ej_until"))
    return ServiceInfo(
        service_id=h["id"],
        service_name=h["name"],
        service_type=h["type"],
        host=h["host"],
        port=int(h["port"]) if h.get("port") else None,
        health_check_url=h.get("url") or None,
        metadata=json.loads(h.get("meta") or "{}"),
        weight=int(h.get("weight", "1")),
        tags=json.loads(h.get("tags") or "[]"),
        check="ttl" if h.get("check") == "ttl" else "auto",
        status=ServiceStatus(status),
        load=float(h.get("load", "0")),
        connections=int(h.get("conns", "0")),
        active_connections=int(h.get("active", "0")),
        ttl=int(h.get("ttl", "0")) / 1000.0,
        registered_at=_secs(h.get("reg_at")) or 0.0,
        last_heartbeat=_secs(h.get("hb_at")) or 0.0,
        expires_at=exp_ms / 1000.0,
        last_check_at=_secs(h.get("checked_at")),
        consecutive_failures=int(h.get("fails", "0")),
        consecutive_successes=int(h.get("oks", "0")),
        ejected_until=ej if ej else None,
        times_ejected=int(h.get("ej_count", "0")),
        offline_at=_secs(h.get("off_at")),
        requests=int(h.get("req", "0")),
        errors=int(h.get("err", "0")),
        response_time_sum_ms=float(h.get("lat_sum", "0")),
        response_time_count=int(h.get("lat_n", "0")),
        panic=panic,
    )


class HealthRecord(BaseModel):
    """One health-check result from the capped history (timestamp in epoch seconds)."""

    timestamp: float
    healthy: bool
    response_time_ms: float
    error: str = ""
    status: ServiceStatus
