"""Settings: one pydantic-settings model with the seed's YAML sections plus ``redis`` and ``celery``.

Sources, strongest first: keyword arguments, environment (``COORD_`` prefix, nested with ``__``,
e.g. ``COORD_SCHEDULER__MAX_RETRIES=5``), a YAML file (``COORD_CONFIG`` or ``--config``),
defaults. Unknown keys and invalid values fail at load with a ConfigurationError naming the key.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from coordination.enums import SchedulingStrategy
from coordination.errors import ConfigurationError
from coordination.keys import validate_prefix

ENV_PREFIX = "COORD_"
CONFIG_ENV_VAR = "COORD_CONFIG"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"

PositiveInt = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
Quantity = str | int | float

_yaml_path: ContextVar[Path | None] = ContextVar("_yaml_path", default=None)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def mask_url(url: str) -> str:
    """The URL with its password replaced by ``***`` (safe for logs and errors)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def validate_redis_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss", "unix", "valkey", "valkeys"):
        raise ValueError(f"scheme must be redis://, rediss:// or unix://, got {parts.scheme!r}")
    if parts.scheme == "unix":
        if not parts.path:
            raise ValueError("unix:// URL needs a socket path")
        return url
    if not parts.hostname:
        raise ValueError("URL has no host")
    try:
        _ = parts.port
    except ValueError as exc:
        raise ValueError(f"bad port: {exc}") from None
    db = parts.path.lstrip("/")
    if db and not db.isdigit():
        raise ValueError(f"database must be a number, got {db!r}")
    return url


class SentinelSettings(_Section):
    hosts: list[str] = Field(default_factory=list, description="host:port of each Sentinel")
    master_name: str = "mymaster"
    password: SecretStr | None = None

    @field_validator("hosts")
    @classmethod
    def _hosts(cls, hosts: list[str]) -> list[str]:
        for host in hosts:
            name, _, port = host.rpartition(":")
            if not name or not port.isdigit():
                raise ValueError(f"{host!r} is not host:port")
        return hosts


class RedisSettings(_Section):
    url: str | None = Field(
        default=None,
        description="Unset: use 127.0.0.1:6379 if it answers, else start an embedded server.",
    )
    key_prefix: str = "coord"
    username: str | None = Field(default=None, description="ACL user (overrides the URL's)")
    password: SecretStr | None = Field(default=None, description="overrides the URL's")
    tls: bool = False
    tls_ca_certs: str | None = None
    tls_cert_reqs: Literal["required", "optional", "none"] = "required"
    sentinel: SentinelSettings = Field(default_factory=SentinelSettings)
    socket_timeout: PositiveFloat = 5.0
    socket_connect_timeout: PositiveFloat = 2.0
    max_connections: PositiveInt = 128
    embedded: bool = Field(default=True, description="allow the embedded server when url is unset")
    embedded_data_dir: str | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, url: str | None) -> str | None:
        # An empty value (COORD_REDIS__URL=) means unset, as users blank a variable to unset it.
        return None if not url else validate_redis_url(url)

    @field_validator("key_prefix")
    @classmethod
    def _prefix(cls, prefix: str) -> str:
        return validate_prefix(prefix)


def _default_limits() -> dict[str, Quantity]:
    return {"cpu": "4", "memory": "8Gi", "gpu": "1"}


class ContainerSettings(_Section):
    max_containers: PositiveInt = 100
    default_timeout: PositiveFloat = 300
    health_check_interval: PositiveFloat = 30
    resource_limits: dict[str, Quantity] = Field(default_factory=_default_limits)
    runtime: Literal["auto", "docker", "process"] = "auto"
    restart_backoff_base: PositiveFloat = 0.5
    restart_backoff_max: PositiveFloat = 60
    max_restarts: Annotated[int, Field(ge=0)] = 5
    restart_reset_after: PositiveFloat = 60
    destroyed_ttl: PositiveFloat = 86400
    log_dir: str | None = None
    network_mode: str = "none"
    default_image: str = "coordination-agent:latest"
    process_command: list[str] = Field(
        default_factory=lambda: ["coord", "worker", "--name", "{agent_id}"]
    )


class RegistrySettings(_Section):
    cleanup_interval: PositiveFloat = 60
    health_check_interval: PositiveFloat = 30
    heartbeat_timeout: PositiveFloat = 90
    max_services: PositiveInt = 1000
    offline_retention: PositiveFloat = 3600
    failures_before_unhealthy: PositiveInt = 3
    successes_before_healthy: PositiveInt = 2
    health_check_timeout: PositiveFloat = 5.0
    health_check_concurrency: PositiveInt = 50
    history_size: PositiveInt = 100
    ejection_consecutive_failures: PositiveInt = 3
    ejection_base_time: PositiveFloat = 30.0
    ejection_max_time: PositiveFloat = 300.0


class SchedulerSettings(_Section):
    max_concurrent_tasks: PositiveInt = 100
    task_timeout_check_interval: PositiveFloat = 30
    default_strategy: SchedulingStrategy = SchedulingStrategy.FIFO
    max_retries: Annotated[int, Field(ge=0)] = 3
    worker_ttl: PositiveFloat = Field(
        default=6, description="a worker silent this long is dead; its tasks are requeued"
    )
    lease_ttl: PositiveFloat | None = Field(default=None, description="None = the worker's ttl")
    start_timeout: PositiveFloat = 30
    retry_backoff_base: PositiveFloat = 1.0
    retry_backoff_max: PositiveFloat = 300.0
    max_payload_bytes: PositiveInt = 1024 * 1024
    task_ttl: PositiveFloat = 7 * 24 * 3600
    dispatch_scan_limit: PositiveInt = 1000


class CelerySettings(_Section):
    broker_url: str | None = Field(default=None, description="defaults to the redis url")
    worker_concurrency: PositiveInt = 2
    flower_port: Annotated[int, Field(ge=1, le=65535)] = 5555
    flower_user: str = "admin"
    flower_password: SecretStr = SecretStr("coordination")
    imports: list[str] = Field(
        default_factory=list, description="modules with your Celery tasks, imported by workers"
    )
    heartbeat_interval: PositiveFloat = Field(
        default=2.0, description="seconds between worker heartbeats (renews leases)"
    )
    dispatch_interval: PositiveFloat = Field(
        default=1.0, description="safety-net dispatch period of each worker's dispatcher"
    )
    timeout_grace: PositiveFloat = Field(
        default=5.0, description="seconds between a task's soft and hard time limit"
    )
    beat_lock_timeout: PositiveInt = Field(
        default=5, description="seconds: a standby beat takes over this long after the leader dies"
    )
    beat_max_loop_interval: PositiveFloat = 1.0
    stats_interval: PositiveFloat = Field(default=60.0, description="stats snapshot period")

    @field_validator("broker_url")
    @classmethod
    def _broker(cls, url: str | None) -> str | None:
        return None if not url else validate_redis_url(url)


class Settings(BaseSettings):
    """All settings. Build with ``Settings.load(...)`` to get ConfigurationError on bad input."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        validate_assignment=True,
    )

    container: ContainerSettings = Field(default_factory=ContainerSettings)
    registry: RegistrySettings = Field(default_factory=RegistrySettings)
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    celery: CelerySettings = Field(default_factory=CelerySettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _yaml_path.get()
        if path is not None:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=path))
        return tuple(sources)

    @classmethod
    def load(cls, config_file: str | Path | None = None, **overrides: Any) -> Settings:
        """Load from kwargs > env > YAML > defaults; raise ConfigurationError naming the bad key."""
        path = resolve_config_path(config_file)
        token = _yaml_path.set(path)
        try:
            return cls(**overrides)
        except ValidationError as exc:
            raise ConfigurationError(_describe(exc, path)) from None
        finally:
            _yaml_path.reset(token)


def resolve_config_path(config_file: str | Path | None) -> Path | None:
    raw = config_file if config_file is not None else os.environ.get(CONFIG_ENV_VAR)
    if not raw:
        return None
    path = Path(raw).expanduser()
    if not path.is_file():
        raise ConfigurationError(f"config file {path} does not exist")
    return path


def _describe(exc: ValidationError, path: Path | None) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "settings"
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        lines.append(f"{key}: {msg}")
    where = f" (config file {path})" if path else ""
    return f"invalid settings{where}: " + "; ".join(lines)


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict) and data and not prefix.endswith("resource_limits"):
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: data}


def value_sources(
    settings: Settings, config_file: str | Path | None = None, **overrides: Any
) -> dict[str, str]:
    """For each dotted key: where its effective value came from (argument, env, yaml, default)."""
    path = resolve_config_path(config_file)
    env = _flatten(EnvSettingsSource(Settings)())
    yaml = _flatten(YamlConfigSettingsSource(Settings, yaml_file=path)()) if path else {}
    given = _flatten(overrides)
    origin: dict[str, str] = {}
    for key in _flatten(settings.model_dump()):
        if any(k == key or k.startswith(key + ".") or key.startswith(k + ".") for k in given):
            origin[key] = "argument"
        elif any(k == key or key.startswith(k + ".") for k in env):
            origin[key] = "env"
        elif any(k == key or key.startswith(k + ".") for k in yaml):
            origin[key] = f"yaml ({path})"
        else:
            origin[key] = "default"
    return origin


def masked_dump(settings: Settings) -> dict[str, Any]:
    """Settings as plain data with secrets and URL passwords masked."""
    data = settings.model_dump(mode="json")
    for section in data.values():
        if not isinstance(section, dict):
            continue
        for key, value in list(section.items()):
            if isinstance(value, str) and key.endswith("url"):
                section[key] = mask_url(value)
    return data
