"""The eight-state ContainerStatus machine and its Redis store (records, CAS transitions).

CREATED -> STARTING -> RUNNING <-> PAUSED; RUNNING/PAUSED -> STOPPING -> STOPPED -> STARTING;
a process that exits by itself goes RUNNING -> STOPPED (or ERROR) through ``exited``; any
state -> ERROR; CREATED/STOPPED/ERROR -> DESTROYED. Every change is a compare-and-set Lua
script on the expected state, so two processes cannot both win a transition.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from coordination.container.models import ContainerInfo
from coordination.enums import ContainerStatus
from coordination.errors import (
    CapacityError,
    InvalidInputError,
    InvalidTransitionError,
    NotFoundError,
)
from coordination.keys import Keys
from coordination.redis_client import AsyncCoordRedis
from coordination.scripts import Scripts

S = ContainerStatus
ALLOWED_FROM: dict[ContainerStatus, frozenset[ContainerStatus]] = {
    S.STARTING: frozenset({S.CREATED, S.STOPPED}),
    S.RUNNING: frozenset({S.STARTING, S.PAUSED}),
    S.PAUSED: frozenset({S.RUNNING}),
    S.STOPPING: frozenset({S.RUNNING, S.PAUSED}),
    S.STOPPED: frozenset({S.STOPPING}),
    S.ERROR: frozenset(set(S) - {S.DESTROYED}),
    S.DESTROYED: frozenset({S.CREATED, S.STOPPED, S.ERROR}),
}


def can_transition(current: ContainerStatus, target: ContainerStatus) -> bool:
    return current in ALLOWED_FROM[target]


@dataclass(frozen=True)
class ExitDecision:
    """What ``exited`` decided: "restart" (after delay_s), "stopped", "error" or "skip"."""

    action: str
    delay_s: float = 0.0
    attempt: int = 0
    detail: str = ""


class ContainerStore:
    """Container records in Redis: one async method per script, plus reads."""

    def __init__(self, client: AsyncCoordRedis, keys: Keys):
        self.client = client
        self.keys = keys.containers
        self.scripts = Scripts(client)

    def _keys3(self, container_id: str) -> list[str]:
        return [self.keys.container(container_id), self.keys.live(), self.keys.stats()]

    def _keys4(self, container_id: str) -> list[str]:
        return [*self._keys3(container_id), self.keys.releases()]

    async def create(
        self, container_id: str, fields: Mapping[str, str], max_containers: int
    ) -> None:
        reply = await self.scripts.acall(
            "ctr_create",
            self._keys3(container_id),
            [container_id, max_containers, json.dumps(dict(fields))],
        )
        if reply[0] == "exists":
            raise InvalidInputError("container_id", f"{container_id!r} already exists")
        if reply[0] == "full":
            raise CapacityError(
                f"max_containers reached: {reply[1]} of {max_containers} containers exist"
            )

    async def abort(self, container_id: str) -> bool:
        reply = await self.scripts.acall("ctr_abort", self._keys3(container_id), [container_id])
        return bool(reply)

    async def transition(
        self,
        container_id: str,
        to: ContainerStatus,
        *,
        from_: Iterable[ContainerStatus] | None = None,
        epoch: int | None = None,
        due: bool = False,
        set_: Mapping[str, Any] | None = None,
        delete: Iterable[str] = (),
        incr: Mapping[str, int] | None = None,
        stats: Mapping[str, int] | None = None,
        bump_epoch: bool = False,
        ttl_ms: int | None = None,
    ) -> tuple[ContainerStatus, int]:
        """CAS ``to`` from ``from_`` (default: every state the machine allows); return (previous, epoch)."""
        allowed = sorted(str(s) for s in (from_ if from_ is not None else ALLOWED_FROM[to]))
        spec: dict[str, Any] = {"from": allowed, "to": str(to), "due": due}
        spec.update(set=dict(set_ or {}), incr=dict(incr or {}), stats=dict(stats or {}))
        spec["bump_epoch"] = bump_epoch
        if delete:
            spec["del"] = list(delete)
        if epoch is not None:
            spec["epoch"] = epoch
        if ttl_ms is not None:
            spec["ttl_ms"] = ttl_ms
        reply = await self.scripts.acall(
            "ctr_transition", self._keys4(container_id), [container_id, json.dumps(spec)]
        )
        return _transition_result(container_id, to, reply)

    async def exited(
        self,
        container_id: str,
        *,
        expected: ContainerStatus,
        epoch: int,
        exit_code: int | None,
        policy: str,
        max_restarts: int,
        backoff_ms: tuple[int, int],
        reset_after_ms: int,
        reason: str,
    ) -> ExitDecision:
        reply = await self.scripts.acall(
            "ctr_exited",
            [self.keys.container(container_id), self.keys.stats()],
            [
                str(expected),
                epoch,
                "" if exit_code is None else exit_code,
                policy,
                max_restarts,
                backoff_ms[0],
                backoff_ms[1],
                reset_after_ms,
                reason,
            ],
        )
        action = str(reply[0])
        if action == "restart":
            return ExitDecision(action, int(reply[1]) / 1000, int(reply[2]))
        return ExitDecision(action, detail=str(reply[1]) if len(reply) > 1 else "")

    async def get(self, container_id: str) -> ContainerInfo:
        raw = cast(dict[str, str], await self.client.hgetall(self.keys.container(container_id)))
        if not raw:
            raise NotFoundError(f"container {container_id!r} not found")
        return ContainerInfo.from_record(container_id, raw)

    async def live_ids(self) -> list[str]:
        return cast(list[str], await self.client.zrange(self.keys.live(), 0, -1))

    async def list_all(self) -> list[ContainerInfo]:
        """Every live record, oldest first; malformed ones are skipped (see ``sweep``)."""
        ids = await self.live_ids()
        pipe = self.client.pipeline(transaction=False)
        for container_id in ids:
            pipe.hgetall(self.keys.container(container_id))
        out: list[ContainerInfo] = []
        for container_id, raw in zip(ids, await pipe.execute(), strict=True):
            if not raw:
                continue
            try:
                out.append(ContainerInfo.from_record(container_id, raw))
            except (KeyError, ValueError):
                continue  # malformed record: reported by the CLI, never a crash loop
        return out

    async def counters(self) -> dict[str, int]:
        raw = cast(dict[str, str], await self.client.hgetall(self.keys.stats()))
        return {name: int(value) for name, value in raw.items()}

    async def sweep(self) -> list[str]:
        reply = await self.scripts.acall(
            "ctr_sweep", [self.keys.live(), self.keys.container_base()], []
        )
        return [str(item) for item in reply]

    async def pending_releases(self) -> list[str]:
        return cast(list[str], await self.client.zrange(self.keys.releases(), 0, -1))

    async def released(self, container_id: str) -> None:
        await self.client.zrem(self.keys.releases(), container_id)

    async def server_time(self) -> float:
        seconds, micros = await self.client.time()
        return int(seconds) + int(micros) / 1_000_000


def _transition_result(
    container_id: str, to: ContainerStatus, reply: list[Any]
) -> tuple[ContainerStatus, int]:
    kind = reply[0]
    if kind == "ok":
        return ContainerStatus(reply[1]), int(reply[2])
    if kind == "missing":
        raise NotFoundError(f"container {container_id!r} not found")
    if kind == "state":
        raise InvalidTransitionError(f"container {container_id}: cannot go from {reply[1]} to {to}")
    if kind == "epoch":
        raise InvalidTransitionError(
            f"container {container_id}: changed under us (epoch is now {reply[1]}); not moved to {to}"
        )
    raise InvalidTransitionError(f"container {container_id}: restart not due yet ({reply[1]})")
