"""One parser for resource quantities, shared by the scheduler, the allocator and containers.

Quantities normalize to integers so Lua can compare them exactly:
- byte resources (``memory``, ``storage``, ``disk``, ``ephemeral-storage``, names ending in
  ``_bytes``) become bytes: ``"4Gi"``, ``"512Mi"``, ``"1G"``, ``"1.5Gi"``, ``4294967296``;
- every other resource (``cpu``, ``gpu``, custom names) becomes milli-units: ``"500m"`` -> 500,
  ``"2"`` / ``2`` -> 2000, ``0.25`` -> 250.
Negative values, unknown units, booleans and non-numbers raise InvalidInputError naming the
field.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from coordination.errors import InvalidInputError

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50}
_DECIMAL = {"k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15}
_BYTE_NAMES = frozenset(
    {"memory", "mem", "storage", "disk", "ephemeral-storage", "ephemeral_storage"}
)
_NUMBER_RE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)\s*$")
_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-/]{0,62}$")

Quantity = str | int | float


def is_byte_resource(name: str) -> bool:
    return name in _BYTE_NAMES or name.endswith("_bytes")


def parse_quantity(value: Quantity, name: str = "cpu", field: str | None = None) -> int:
    """Normalize one quantity of resource ``name`` (bytes, or milli-units for the rest)."""
    where = field or name
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InvalidInputError(where, f"must be a number or a quantity string, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidInputError(where, f"must be finite, got {value!r}")
    if isinstance(value, int | float):
        number, unit = Decimal(str(value)), ""
    else:
        match = _NUMBER_RE.match(value)
        if not match:
            if value.strip().startswith("-"):
                raise InvalidInputError(where, f"must not be negative, got {value!r}")
            raise InvalidInputError(where, f"not a quantity: {value!r}")
        try:
            number = Decimal(match.group(1))
        except InvalidOperation:
            raise InvalidInputError(where, f"not a quantity: {value!r}") from None
        unit = match.group(2)
    if number < 0:
        raise InvalidInputError(where, f"must not be negative, got {value!r}")
    if is_byte_resource(name):
        if unit in _BINARY:
            scale = _BINARY[unit]
        elif unit in _DECIMAL:
            scale = _DECIMAL[unit]
        elif unit in ("", "B", "b"):
            scale = 1
        else:
            raise InvalidInputError(where, f"unknown unit {unit!r} (use Ki, Mi, Gi, Ti, k, M, G)")
        return int(number * scale)
    if unit == "m":
        return int(number)
    if unit == "":
        return int(number * 1000)
    if unit in _DECIMAL:
        return int(number * _DECIMAL[unit] * 1000)
    raise InvalidInputError(where, f"unknown unit {unit!r} (use m for milli, or a plain number)")


def parse_resources(
    resources: Mapping[str, Quantity] | None, field: str = "resources"
) -> dict[str, int]:
    """Normalize a resource mapping; zero amounts are dropped. Errors name ``field.<name>``."""
    if resources is None:
        return {}
    if not isinstance(resources, Mapping):
        raise InvalidInputError(
            field, f"must be a mapping of resource name to quantity, got {resources!r}"
        )
    out: dict[str, int] = {}
    for name, value in resources.items():
        if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
            raise InvalidInputError(f"{field}", f"bad resource name {name!r}")
        amount = parse_quantity(value, name, f"{field}.{name}")
        if amount:
            out[name] = amount
    return out


def format_quantity(name: str, amount: int) -> str:
    """Human form of a normalized amount: ``"4Gi"``, ``"1.5"`` cpu, ``"500m"``."""
    if is_byte_resource(name):
        for unit in ("Pi", "Ti", "Gi", "Mi", "Ki"):
            if amount >= _BINARY[unit] and amount % _BINARY[unit] == 0:
                return f"{amount // _BINARY[unit]}{unit}"
        return str(amount)
    if amount % 1000 == 0:
        return str(amount // 1000)
    return f"{amount}m"
