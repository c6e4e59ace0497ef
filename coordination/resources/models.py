"""Results of the resource pool, and validation of its inputs (before anything is written)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, ValidationError

from coordination.errors import InvalidInputError
from coordination.quantity import Quantity, parse_resources

# Lua numbers are doubles: integers are exact only below 2**53 (8 PiB, or 9e12 cores).
MAX_AMOUNT = 2**53 - 1
MAX_PRIORITY = 2**31 - 1
MAX_TTL_SECONDS = 10 * 365 * 86400.0
_POOL_NAME_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")

M = TypeVar("M", bound=BaseModel)

RequestId = Annotated[str, Field(min_length=1, max_length=256, pattern=r"^[^\s\x00-\x1f\x7f]+$")]
Priority = Annotated[StrictInt, Field(ge=-MAX_PRIORITY, le=MAX_PRIORITY)]
Ttl = Annotated[float, Field(gt=0, le=MAX_TTL_SECONDS, allow_inf_nan=False)]


class _Result(BaseModel):
    model_config = ConfigDict(frozen=True)


class Allocation(_Result):
    """One request held by a pool: granted (holding its resources) or waiting in the queue."""

    request_id: str
    resources: dict[str, int]
    priority: int
    granted_at: float | None  # epoch seconds, Redis server time
    expires_at: float | None  # None: never expires
    status: Literal["granted", "waiting"]


class AllocationResult(_Result):
    """Outcome of allocate. Truthy exactly when granted (so ``if await pool.allocate(...)`` works)."""

    request_id: str
    granted: bool
    waiting: bool
    position: int | None  # place in the queue when waiting (1 = next in line)

    def __bool__(self) -> bool:
        return self.granted


class ReleaseResult(_Result):
    request_id: str
    released: bool
    granted: list[str]  # waiting requests granted by this release


class ReclaimResult(_Result):
    reclaimed: list[str]  # expired allocations released
    granted: list[str]  # waiting requests granted afterwards


class PoolStatus(_Result):
    capacity: dict[str, int]
    allocated: dict[str, int]
    available: dict[str, int]
    utilization: dict[str, float]  # allocated / capacity, 0.0-1.0 (above 1 after a shrink)
    allocations: int  # granted
    waiting: int


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AllocateInput(_Input):
    request_id: RequestId
    priority: Priority = 0
    wait: StrictBool = False
    ttl: Ttl | None = None


class IdInput(_Input):
    request_id: RequestId


class RenewInput(_Input):
    request_id: RequestId
    ttl: Ttl


def validated(model: type[M], **values: object) -> M:
    """Build an input model; pydantic errors become InvalidInputError naming the field."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise InvalidInputError.from_pydantic(exc) from None


def amounts(resources: Mapping[str, Quantity], field: str) -> dict[str, int]:
    """Normalized amounts (zeros dropped), each below MAX_AMOUNT; errors name ``field.<name>``."""
    parsed = parse_resources(resources, field)
    for name, amount in parsed.items():
        if amount > MAX_AMOUNT:
            raise InvalidInputError(f"{field}.{name}", f"too large (at most {MAX_AMOUNT})")
    return parsed


def pool_name(name: object) -> str:
    if not isinstance(name, str) or not _POOL_NAME_RE.fullmatch(name):
        raise InvalidInputError("name", "pool name must be 1-64 letters, digits, '_', '-' or '.'")
    return name
