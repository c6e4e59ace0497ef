"""Pool operations: each builds one script call (name, KEYS, ARGV) and parses its reply.

The sync and asyncio pools only execute these, so the logic exists once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from coordination.errors import CapacityError, InvalidInputError
from coordination.keys import Keys
from coordination.quantity import Quantity, format_quantity
from coordination.resources.models import (
    AllocateInput,
    Allocation,
    AllocationResult,
    IdInput,
    PoolStatus,
    ReclaimResult,
    ReleaseResult,
    RenewInput,
    amounts,
    pool_name,
    validated,
)

T = TypeVar("T")

# Bounds on one script's work, so a long queue never stalls Redis: the grant pass examines at
# most this many waiters (highest priority first), a reclaim frees at most this many expired.
GRANT_SCAN_LIMIT = 1000
RECLAIM_BATCH = 1000


@dataclass(frozen=True)
class Op(Generic[T]):
    script: str
    keys: list[str]
    args: list[str | int]
    parse: Callable[[Any], T]


def _flat(pairs: Mapping[str, int]) -> list[str | int]:
    out: list[str | int] = [len(pairs)]
    for name, amount in sorted(pairs.items()):
        out += [name, str(amount)]
    return out


def _hash(flat: list[str]) -> dict[str, int]:
    return {flat[i]: int(flat[i + 1]) for i in range(0, len(flat), 2)}


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


class PoolOps:
    """Builds the operations of one named pool."""

    def __init__(self, keys: Keys, name: str):
        self.name = pool_name(name)
        res = keys.resources
        self.k_cap, self.k_used = res.capacity(name), res.used(name)
        self.k_alloc, self.k_wait = res.allocations(name), res.waiting(name)
        self.k_exp, self.k_seq = res.expiry(name), res.sequence(name)

    # -- capacity ---------------------------------------------------------------------------
    def resize(self, capacity: Mapping[str, Quantity]) -> Op[dict[str, int]]:
        total = amounts(capacity, "capacity")
        if not total:
            raise InvalidInputError(
                "capacity", "must name at least one resource with an amount > 0"
            )
        return Op("res_resize", [self.k_cap], _flat(total), _hash)

    def grant(self) -> Op[ReclaimResult]:
        """A grant pass with nothing released (after a resize)."""
        return self._free("grant", "", lambda r: ReclaimResult(reclaimed=[], granted=list(r[2])))

    # -- requests ---------------------------------------------------------------------------
    def allocate(
        self,
        request_id: str,
        resources: Mapping[str, Quantity],
        priority: int,
        wait: bool,
        ttl: float | None,
    ) -> Op[AllocationResult]:
        req = validated(AllocateInput, request_id=request_id, priority=priority, wait=wait, ttl=ttl)
        wanted = amounts(resources, "resources")
        keys = [self.k_cap, self.k_used, self.k_alloc, self.k_wait, self.k_exp, self.k_seq]
        ttl_ms = _ms(req.ttl) if req.ttl is not None else 0
        args: list[str | int] = [req.request_id, req.priority, int(req.wait), ttl_ms]
        return Op("res_allocate", keys, args + _flat(wanted), self._allocated(req.request_id))

    def _allocated(self, request_id: str) -> Callable[[Any], AllocationResult]:
        def parse(reply: list[Any]) -> AllocationResult:
            outcome = reply[0]
            if outcome == "capacity":
                raise CapacityError(self._never_fits(request_id, *reply[1:4]))
            waiting = outcome == "waiting"
            return AllocationResult(
                request_id=request_id,
                granted=outcome == "granted",
                waiting=waiting,
                position=int(reply[1]) if waiting else None,
            )

        return parse

    def _never_fits(self, request_id: str, name: str, wanted: str, total: str) -> str:
        if int(total) < 0:
            return f"{request_id}: pool {self.name!r} has no resource {name!r}"
        return (
            f"{request_id}: {name} {format_quantity(name, int(wanted))} exceeds the total "
            f"capacity {format_quantity(name, int(total))} of pool {self.name!r}"
        )

    def release(self, request_id: str) -> Op[ReleaseResult]:
        rid = validated(IdInput, request_id=request_id).request_id
        return self._free(
            "id",
            rid,
            lambda r: ReleaseResult(request_id=rid, released=bool(r[0]), granted=list(r[2])),
        )

    def reclaim(self) -> Op[ReclaimResult]:
        return self._free(
            "expired",
            RECLAIM_BATCH,
            lambda r: ReclaimResult(reclaimed=list(r[1]), granted=list(r[2])),
        )

    def _free(self, mode: str, arg: str | int, parse: Callable[[Any], T]) -> Op[T]:
        keys = [self.k_cap, self.k_used, self.k_alloc, self.k_wait, self.k_exp]
        return Op("res_release", keys, [mode, arg, GRANT_SCAN_LIMIT], parse)

    def renew(self, request_id: str, ttl: float) -> Op[bool]:
        req = validated(RenewInput, request_id=request_id, ttl=ttl)
        args: list[str | int] = [req.request_id, _ms(req.ttl)]
        return Op("res_renew", [self.k_alloc, self.k_exp], args, lambda r: bool(int(r)))

    # -- reads ------------------------------------------------------------------------------
    def get(self, request_id: str) -> Op[Allocation | None]:
        rid = validated(IdInput, request_id=request_id).request_id
        return Op("res_get", [self.k_alloc, self.k_wait], [rid], lambda r: _allocation(rid, r))

    def status(self) -> Op[PoolStatus]:
        keys = [self.k_cap, self.k_used, self.k_alloc, self.k_wait]
        return Op("res_status", keys, [], _status)


def _seconds(ms: Any) -> float | None:
    return None if ms is None else int(ms) / 1000.0


def _allocation(request_id: str, reply: list[Any]) -> Allocation | None:
    if not reply:
        return None
    rec = json.loads(reply[0])
    return Allocation(
        request_id=request_id,
        resources={name: int(amount) for name, amount in rec.get("r", {}).items()},
        priority=int(rec["p"]),
        granted_at=_seconds(rec.get("g")),
        expires_at=_seconds(rec.get("e")),
        status=rec["s"],
    )


def _status(reply: list[Any]) -> PoolStatus:
    capacity, used = _hash(reply[0]), _hash(reply[1])
    names = sorted(set(capacity) | set(used))
    allocated = {n: used.get(n, 0) for n in names}
    return PoolStatus(
        capacity={n: capacity.get(n, 0) for n in names},
        allocated=allocated,
        available={n: max(capacity.get(n, 0) - allocated[n], 0) for n in names},
        utilization={
            n: round(allocated[n] / capacity[n], 6) if capacity.get(n) else 0.0 for n in names
        },
        allocations=int(reply[2]),
        waiting=int(reply[3]),
    )
