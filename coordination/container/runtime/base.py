"""The small interface every runtime implements, and what crosses it.

Runtimes are synchronous (the docker SDK is); the async layer calls them through
``asyncio.to_thread``. A runtime names each container by a ``handle`` string that is stored
in the container's Redis record, so any process on the same node can control it.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from coordination.container.models import ResourceUsage


@dataclass(frozen=True)
class RuntimeSpec:
    """Everything a runtime needs to run one container (resources already normalized)."""

    container_id: str
    agent_id: str
    agent_type: str
    command: list[str] | None = None
    image: str | None = None
    environment: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    resources: Mapping[str, int] = field(default_factory=dict)  # milli-units / bytes
    network_mode: str = "none"
    working_dir: str | None = None
    log_path: str | None = None


@dataclass(frozen=True)
class RuntimeState:
    """What the runtime says about a container right now."""

    exists: bool
    running: bool
    exit_code: int | None = None  # None while running or when nobody saw the exit status
    detail: str = ""


GONE = RuntimeState(exists=False, running=False, detail="no such container")


class ContainerRuntime(abc.ABC):
    """Create, start, stop, kill, remove, inspect one container at a time."""

    name: str = "?"

    @property
    @abc.abstractmethod
    def node(self) -> str:
        """Where this runtime's containers live; only a runtime on the same node controls them."""

    @abc.abstractmethod
    def create(self, spec: RuntimeSpec) -> str:
        """Prepare the container; return its handle (may be empty until started)."""

    @abc.abstractmethod
    def start(self, handle: str, spec: RuntimeSpec) -> str:
        """Start (or start again); return the handle, which may have changed."""

    @abc.abstractmethod
    def stop(self, handle: str, timeout: float) -> int | None:
        """Ask it to exit (SIGTERM), kill it after ``timeout`` seconds; return the exit code."""

    @abc.abstractmethod
    def kill(self, handle: str) -> int | None:
        """Kill it now (SIGKILL); return the exit code if known."""

    @abc.abstractmethod
    def pause(self, handle: str) -> None: ...

    @abc.abstractmethod
    def unpause(self, handle: str) -> None: ...

    @abc.abstractmethod
    def remove(self, handle: str) -> None:
        """Remove it and what it left behind; a missing container is not an error."""

    @abc.abstractmethod
    def state(self, handle: str) -> RuntimeState: ...

    def states(self, handles: Iterable[str]) -> dict[str, RuntimeState]:
        """Many states at once (runtimes override this when one call can answer for all)."""
        return {handle: self.state(handle) for handle in handles}

    @abc.abstractmethod
    def logs(self, handle: str, lines: int = 100) -> str: ...

    @abc.abstractmethod
    def usage(self, handle: str) -> ResourceUsage: ...

    @abc.abstractmethod
    def inspect(self, handle: str) -> dict[str, Any]: ...

    def close(self) -> None:  # noqa: B027 - optional hook, a no-op for most runtimes
        """Release client connections (nothing to do by default)."""
