"""Docker runtime: the docker SDK against a real engine.

Every container carries labels naming its agent, its container id and the key prefix, so
one ``docker ps``-style call answers for all of a namespace. Docker and connection errors
are translated here into ContainerRuntimeError.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Iterable, Iterator
from typing import Any

import docker
import docker.errors
import requests.exceptions
from docker.types import DeviceRequest

from coordination.container.errors import ContainerRuntimeError
from coordination.container.models import ResourceUsage
from coordination.container.runtime.base import GONE, ContainerRuntime, RuntimeSpec, RuntimeState

LABEL_AGENT = "coordination.agent_id"
LABEL_AGENT_TYPE = "coordination.agent_type"
LABEL_CONTAINER = "coordination.container_id"
LABEL_NAMESPACE = "coordination.namespace"
_EXITED_RE = re.compile(r"Exited \((-?\d+)\)")


@contextlib.contextmanager
def translate(action: str) -> Iterator[None]:
    """Docker SDK and transport errors -> ContainerRuntimeError saying what failed."""
    try:
        yield
    except docker.errors.ImageNotFound as exc:
        raise ContainerRuntimeError(
            "docker", f"{action}: image not found ({exc.explanation}); build or load it first"
        ) from exc
    except docker.errors.NotFound as exc:
        raise ContainerRuntimeError(
            "docker", f"{action}: no such container ({exc.explanation})"
        ) from exc
    except docker.errors.APIError as exc:
        raise ContainerRuntimeError("docker", f"{action}: {exc.explanation or exc}") from exc
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise ContainerRuntimeError(
            "docker", f"{action}: Docker engine unreachable ({exc})"
        ) from exc


def create_args(spec: RuntimeSpec, namespace: str) -> dict[str, Any]:
    """Keyword arguments of ``containers.create`` for ``spec`` (limits, labels, GPUs)."""
    labels = {
        **spec.labels,
        LABEL_AGENT: spec.agent_id,
        LABEL_AGENT_TYPE: spec.agent_type,
        LABEL_CONTAINER: spec.container_id,
        LABEL_NAMESPACE: namespace,
    }
    args: dict[str, Any] = {
        "image": spec.image,
        "command": list(spec.command) if spec.command else None,
        "name": f"{namespace}-{spec.container_id}",
        "labels": labels,
        "environment": dict(spec.environment),
        "network_mode": spec.network_mode,
        "detach": True,
    }
    if spec.working_dir:
        args["working_dir"] = spec.working_dir
    cpu = spec.resources.get("cpu", 0)
    if cpu:
        args["nano_cpus"] = cpu * 1_000_000  # milli-cores -> billionths of a core
    memory = spec.resources.get("memory", 0)
    if memory:
        args["mem_limit"] = memory
    gpu = spec.resources.get("gpu", 0)
    if gpu:
        args["device_requests"] = [
            DeviceRequest(count=math.ceil(gpu / 1000), capabilities=[["gpu"]])
        ]
    return args


def cpu_percent(stats: dict[str, Any]) -> float:
    """CPU use between the two samples of a non-streamed stats call (100.0 = one core)."""
    cpu, pre = stats.get("cpu_stats") or {}, stats.get("precpu_stats") or {}
    total = (cpu.get("cpu_usage") or {}).get("total_usage", 0)
    pre_total = (pre.get("cpu_usage") or {}).get("total_usage", 0)
    system, pre_system = cpu.get("system_cpu_usage", 0), pre.get("system_cpu_usage", 0)
    if not pre_system or system <= pre_system:
        return 0.0
    cores = cpu.get("online_cpus") or len((cpu.get("cpu_usage") or {}).get("percpu_usage") or [1])
    return float(max(0.0, (total - pre_total) / (system - pre_system) * cores * 100.0))


class DockerRuntime(ContainerRuntime):
    name = "docker"

    def __init__(self, client: Any = None, *, namespace: str = "coord", timeout: float = 60):
        self.namespace = namespace
        self._client = client
        self._timeout = timeout
        self._node: str | None = None

    @property
    def client(self) -> Any:
        if self._client is None:
            with translate("connect"):
                self._client = docker.from_env(timeout=int(self._timeout))
        return self._client

    def ping(self) -> None:
        with translate("ping"):
            self.client.ping()

    @property
    def node(self) -> str:
        if self._node is None:
            with translate("info"):
                self._node = f"docker:{self.client.info()['ID']}"
        return self._node

    def _get(self, handle: str) -> Any:
        if not handle:
            raise ContainerRuntimeError("docker", "container was never created in the engine")
        return self.client.containers.get(handle)

    def create(self, spec: RuntimeSpec) -> str:
        if not spec.image:
            raise ContainerRuntimeError("docker", "needs an image")
        with translate(f"create {spec.container_id} from {spec.image}"):
            args = create_args(spec, self.namespace)
            container = self.client.containers.create(args.pop("image"), **args)
            return str(container.id)

    def start(self, handle: str, spec: RuntimeSpec) -> str:
        with translate(f"start {spec.container_id}"):
            self._get(handle).start()
        return handle

    def _exit_code(self, handle: str) -> int | None:
        with translate("inspect"):
            state = self.client.api.inspect_container(handle)["State"]
        return None if state.get("Running") else int(state.get("ExitCode", 0))

    def stop(self, handle: str, timeout: float) -> int | None:
        with translate("stop"):
            self._get(handle).stop(timeout=max(0, math.ceil(timeout)))
        return self._exit_code(handle)

    def kill(self, handle: str) -> int | None:
        with translate("kill"):
            container = self._get(handle)
            with contextlib.suppress(docker.errors.APIError):  # 409: not running
                container.kill()
            container.wait(timeout=30)
        return self._exit_code(handle)

    def pause(self, handle: str) -> None:
        with translate("pause"):
            self._get(handle).pause()

    def unpause(self, handle: str) -> None:
        with translate("unpause"):
            self._get(handle).unpause()

    def remove(self, handle: str) -> None:
        if not handle:
            return
        with translate("remove"), contextlib.suppress(docker.errors.NotFound):
            self._get(handle).remove(force=True, v=True)

    def state(self, handle: str) -> RuntimeState:
        if not handle:
            return GONE
        with translate("inspect"):
            try:
                state = self.client.api.inspect_container(handle)["State"]
            except docker.errors.NotFound:
                return GONE
        running = bool(state.get("Running"))
        return RuntimeState(
            exists=True,
            running=running,
            exit_code=None if running else int(state.get("ExitCode", 0)),
            detail=str(state.get("Status", ""))
            + (" (OOM killed)" if state.get("OOMKilled") else ""),
        )

    def states(self, handles: Iterable[str]) -> dict[str, RuntimeState]:
        """One list call for the whole namespace; exit codes parsed from its status text."""
        wanted = set(handles)
        with translate("list"):
            rows = self.client.api.containers(
                all=True, filters={"label": f"{LABEL_NAMESPACE}={self.namespace}"}
            )
        seen: dict[str, RuntimeState] = {}
        for row in rows:
            if row["Id"] not in wanted:
                continue
            running = row.get("State") in ("running", "paused", "restarting")
            match = _EXITED_RE.search(row.get("Status", ""))
            code = int(match.group(1)) if match and not running else None
            seen[row["Id"]] = RuntimeState(True, running, code, row.get("Status", ""))
        return {handle: seen.get(handle, GONE) for handle in wanted}

    def namespace_containers(self) -> dict[str, str]:
        """Engine id -> our container id, for every container labelled with our namespace."""
        with translate("list"):
            rows = self.client.api.containers(
                all=True, filters={"label": f"{LABEL_NAMESPACE}={self.namespace}"}
            )
        return {row["Id"]: (row.get("Labels") or {}).get(LABEL_CONTAINER, "") for row in rows}

    def logs(self, handle: str, lines: int = 100) -> str:
        with translate("logs"):
            raw = self._get(handle).logs(tail=lines)
        return raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else str(raw)

    def usage(self, handle: str) -> ResourceUsage:
        with translate("stats"):
            container = self._get(handle)
            stats = container.stats(stream=False)
            limit = int(container.attrs["HostConfig"].get("Memory") or 0)
        memory = stats.get("memory_stats") or {}
        cache = (memory.get("stats") or {}).get("cache", 0)
        return ResourceUsage(
            cpu_percent=cpu_percent(stats),
            memory_used=max(0, int(memory.get("usage", 0)) - int(cache)),
            memory_limit=limit or None,
            pids=int((stats.get("pids_stats") or {}).get("current", 0)),
            running=bool(container.attrs["State"].get("Running")),
        )

    def inspect(self, handle: str) -> dict[str, Any]:
        with translate("inspect"):
            return dict(self.client.api.inspect_container(handle))

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
