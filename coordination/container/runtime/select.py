"""Which runtime: ``container.runtime`` = auto | docker | process (auto = Docker if it answers)."""

from __future__ import annotations

from typing import Literal

import docker

from coordination.container.errors import ContainerRuntimeError
from coordination.container.runtime.base import ContainerRuntime
from coordination.container.runtime.docker import DockerRuntime
from coordination.container.runtime.process import ProcessRuntime

RuntimeName = Literal["docker", "process"]


def docker_available(timeout: float = 2.0) -> bool:
    """True when a Docker engine answers a ping within ``timeout`` seconds."""
    try:
        client = docker.from_env(timeout=max(1, int(timeout)))
    except Exception:
        return False
    try:
        return bool(client.ping())
    except Exception:
        return False
    finally:
        client.close()


class RuntimeSet:
    """The runtimes one manager uses, created on first need (records name their runtime)."""

    def __init__(
        self,
        choice: str | ContainerRuntime = "auto",
        *,
        namespace: str = "coord",
    ):
        self.namespace = namespace
        self._runtimes: dict[str, ContainerRuntime] = {}
        self._default: str | None = None
        if isinstance(choice, ContainerRuntime):
            self._runtimes[choice.name] = choice
            self._default = choice.name
        elif choice in ("docker", "process"):
            self._default = choice
        elif choice != "auto":
            raise ContainerRuntimeError(
                str(choice), "unknown runtime (use auto, docker or process)"
            )

    @property
    def default_name(self) -> str:
        if self._default is None:
            self._default = "docker" if docker_available() else "process"
        return self._default

    def default(self) -> ContainerRuntime:
        return self.get(self.default_name)

    def get(self, name: str) -> ContainerRuntime:
        runtime = self._runtimes.get(name)
        if runtime is None:
            if name == "docker":
                runtime = DockerRuntime(namespace=self.namespace)
            elif name == "process":
                runtime = ProcessRuntime()
            else:
                raise ContainerRuntimeError(name, "unknown runtime (use docker or process)")
            self._runtimes[name] = runtime
        return runtime

    def loaded(self) -> list[ContainerRuntime]:
        return list(self._runtimes.values())

    def close(self) -> None:
        for runtime in self._runtimes.values():
            runtime.close()
        self._runtimes.clear()
