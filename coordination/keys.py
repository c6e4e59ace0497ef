"""Every Redis key name the library uses, and nothing else.

All keys of one namespace start with ``{<prefix>}:``. The braces are a Redis Cluster hash tag,
so every key of a namespace maps to one slot and any Lua script may touch any of them.
Each subsystem has its own section (a small class); add keys to your section only, never
build a key name outside this module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PREFIX_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


def validate_prefix(prefix: str) -> str:
    """Prefixes may not contain braces or colons: they would break the hash tag or the layout."""
    if not _PREFIX_RE.fullmatch(prefix):
        raise ValueError(
            "must be 1-64 characters of letters, digits, '_', '-' or '.' (no braces or colons)"
        )
    return prefix


@dataclass(frozen=True)
class _Section:
    base: str  # "{prefix}"

    def _k(self, *parts: str) -> str:
        return ":".join((self.base, *parts))


@dataclass(frozen=True)
class SchedulerKeys(_Section):
    """Tasks, queues, workers as scheduling targets, leases, counters."""

    def task(self, task_id: str) -> str:
        return self._k("task", task_id)


@dataclass(frozen=True)
class RegistryKeys(_Section):
    """Service instances, per-name expiry indexes, discovery state, health history."""

    def service(self, service_id: str) -> str:
        return self._k("svc", service_id)


@dataclass(frozen=True)
class ResourceKeys(_Section):
    """Resource pools shared by the scheduler's ResourceAllocator and the ResourceManager."""

    def pool(self, pool: str) -> str:
        return self._k("res", pool)


@dataclass(frozen=True)
class ContainerKeys(_Section):
    """Container records and their state machine."""

    def container(self, container_id: str) -> str:
        return self._k("ctr", container_id)


@dataclass(frozen=True)
class BeatKeys(_Section):
    """Maintenance locks and the beat leader lock."""

    def lock(self, name: str) -> str:
        return self._k("lock", name)


class Keys:
    """Entry point: ``Keys("coord").scheduler.task("abc")`` -> ``{coord}:task:abc``."""

    def __init__(self, prefix: str = "coord"):
        self.prefix = validate_prefix(prefix)
        self.base = "{" + prefix + "}"
        self.scheduler = SchedulerKeys(self.base)
        self.registry = RegistryKeys(self.base)
        self.resources = ResourceKeys(self.base)
        self.containers = ContainerKeys(self.base)
        self.beat = BeatKeys(self.base)

    @property
    def pattern(self) -> str:
        """A SCAN MATCH pattern for every key of the namespace (admin tools only, never hot paths)."""
        return self.base.replace("{", "\\{").replace("}", "\\}") + ":*"

    def __repr__(self) -> str:
        return f"Keys({self.prefix!r})"
