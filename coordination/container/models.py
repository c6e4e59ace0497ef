"""Public models of the container subsystem: ContainerConfig, ResourceLimits, ContainerInfo."""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from coordination.enums import ContainerStatus
from coordination.errors import InvalidInputError
from coordination.quantity import Quantity, format_quantity, parse_resources

_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$"


class RestartPolicy(StrEnum):
    """What self-healing does when a container's process exits without being asked to."""

    NO = "no"  # never restart: STOPPED after exit code 0, ERROR otherwise
    ON_FAILURE = "on-failure"  # restart after a non-zero (or unknown) exit code
    ALWAYS = "always"  # restart after any unexpected exit


class _Input(BaseModel):
    """A public input model: bad values raise InvalidInputError naming the field."""

    model_config = ConfigDict(extra="forbid")
    field_prefix: ClassVar[str] = ""

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise InvalidInputError.from_pydantic(exc, self.field_prefix) from None


class ResourceLimits(_Input):
    """Limits of one container (seed): cores, bytes, GPUs, plus any custom resource."""

    field_prefix: ClassVar[str] = "limits."

    cpu_limit: float = Field(default=0.0, ge=0, description="CPU cores (0.5 = half a core)")
    memory_limit: int = Field(default=0, ge=0, description="bytes")
    gpu_limit: float = Field(default=0.0, ge=0, description="GPU devices")
    custom: dict[str, Quantity] = Field(default_factory=dict)

    def to_resources(self) -> dict[str, Quantity]:
        """As a quantity mapping for the parser and the resource pool (zeros dropped later)."""
        out: dict[str, Quantity] = dict(self.custom)
        out.update({"cpu": self.cpu_limit, "memory": self.memory_limit, "gpu": self.gpu_limit})
        return out

    @classmethod
    def from_normalized(cls, amounts: Mapping[str, int]) -> ResourceLimits:
        known = {"cpu", "memory", "gpu"}
        return cls(
            cpu_limit=amounts.get("cpu", 0) / 1000,
            memory_limit=amounts.get("memory", 0),
            gpu_limit=amounts.get("gpu", 0) / 1000,
            custom={k: format_quantity(k, v) for k, v in amounts.items() if k not in known},
        )


class ContainerConfig(_Input):
    """What to run for one agent. Neither ``image`` nor ``command``: the runtime's default."""

    field_prefix: ClassVar[str] = "config."

    agent_id: str = Field(pattern=_ID_PATTERN)
    agent_type: str = Field(default="agent", pattern=_ID_PATTERN)
    image: str | None = Field(default=None, min_length=1)
    command: list[str] | None = None
    resources: dict[str, Quantity] = Field(default_factory=dict)
    environment: dict[str, str] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)
    restart_policy: RestartPolicy = RestartPolicy.ON_FAILURE
    max_restarts: int | None = Field(default=None, ge=0, description="default: settings")
    stop_timeout: float | None = Field(default=None, gt=0, description="default: settings")
    working_dir: str | None = None
    network_mode: str | None = Field(default=None, description="Docker; default: settings")
    runtime: Literal["docker", "process"] | None = Field(
        default=None, description="default: the manager's runtime"
    )

    @field_validator("command", mode="before")
    @classmethod
    def _split_command(cls, value: Any) -> Any:
        if isinstance(value, str):
            return shlex.split(value)
        return value

    @field_validator("command")
    @classmethod
    def _command_not_empty(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not value:
            raise ValueError("must not be empty (leave it out for the default)")
        return value

    @field_validator("resources", mode="before")
    @classmethod
    def _limits_to_mapping(cls, value: Any) -> Any:
        if isinstance(value, ResourceLimits):
            value = value.to_resources()
        try:
            parse_resources(value, "resources")
        except InvalidInputError as exc:
            raise ValueError(f"{exc.field}: {exc.reason}") from None
        return value

    @field_validator("environment", "labels")
    @classmethod
    def _names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not name or "=" in name or "\x00" in name:
                raise ValueError(f"bad name {name!r}")
        return value

    def normalized_resources(self) -> dict[str, int]:
        return parse_resources(self.resources, "resources")

    @classmethod
    def parse(cls, value: ContainerConfig | Mapping[str, Any]) -> ContainerConfig:
        """Validate user input into a ContainerConfig or raise InvalidInputError."""
        if isinstance(value, ContainerConfig):
            return value
        if not isinstance(value, Mapping):
            raise InvalidInputError(
                "config", f"must be a ContainerConfig or a mapping, got {value!r}"
            )
        return cls(**value)


class ContainerInfo(BaseModel):
    """A container record as stored in Redis (what `coord containers list` shows)."""

    container_id: str
    agent_id: str
    agent_type: str
    status: ContainerStatus
    runtime: str
    node: str
    handle: str = ""
    config: ContainerConfig
    resources: dict[str, int] = Field(default_factory=dict)
    created_at: float = 0.0
    updated_at: float = 0.0
    started_at: float | None = None
    stopped_at: float | None = None
    epoch: int = 0
    restarts: int = 0
    restart_attempt: int = 0
    restart_due_at: float | None = None
    exit_code: int | None = None
    error: str | None = None
    log_path: str | None = None

    @classmethod
    def from_record(cls, container_id: str, raw: Mapping[str, str]) -> ContainerInfo:
        def num(name: str) -> float | None:
            value = raw.get(name)
            return int(value) / 1000 if value not in (None, "") else None

        def opt_int(name: str) -> int | None:
            value = raw.get(name)
            return int(value) if value not in (None, "") else None

        return cls(
            container_id=container_id,
            agent_id=raw["agent_id"],
            agent_type=raw.get("agent_type", "agent"),
            status=ContainerStatus(raw["status"]),
            runtime=raw["runtime"],
            node=raw.get("node", ""),
            handle=raw.get("handle", ""),
            config=ContainerConfig.model_validate_json(raw["config"]),
            resources=json.loads(raw.get("resources") or "{}"),
            created_at=num("created_at") or 0.0,
            updated_at=num("updated_at") or 0.0,
            started_at=num("started_at"),
            stopped_at=num("stopped_at"),
            epoch=opt_int("epoch") or 0,
            restarts=opt_int("restarts") or 0,
            restart_attempt=opt_int("restart_attempt") or 0,
            restart_due_at=num("restart_due_at"),
            exit_code=opt_int("exit_code"),
            error=raw.get("error") or None,
            log_path=raw.get("log_path") or None,
        )


class ResourceUsage(BaseModel):
    """What a container uses right now, as its runtime reports it."""

    cpu_percent: float = 0.0  # of one core (100.0 = one core busy)
    memory_used: int = 0  # bytes
    memory_limit: int | None = None  # bytes; None = no limit applied
    pids: int = 0
    running: bool = False
