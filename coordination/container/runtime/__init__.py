"""Runtimes behind one small interface: Docker (an engine) and local processes."""

from __future__ import annotations

from coordination.container.runtime.base import ContainerRuntime, RuntimeSpec, RuntimeState
from coordination.container.runtime.docker import DockerRuntime
from coordination.container.runtime.process import ProcessRuntime
from coordination.container.runtime.select import RuntimeSet, docker_available

__all__ = [
    "ContainerRuntime",
    "DockerRuntime",
    "ProcessRuntime",
    "RuntimeSet",
    "RuntimeSpec",
    "RuntimeState",
    "docker_available",
]
