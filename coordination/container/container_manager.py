"""ContainerManager: agent containers' lifecycle, records in Redis, self-healing (seed API)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Mapping
from typing import Any

from coordination.config import Settings
from coordination.container import lifecycle
from coordination.container.agent_container import AgentContainer
from coordination.container.context import ContainerContext
from coordination.container.healing import HealReport, heal_once
from coordination.container.models import ContainerConfig, ContainerInfo
from coordination.container.runtime.base import ContainerRuntime
from coordination.enums import ContainerStatus
from coordination.errors import InvalidInputError
from coordination.quantity import Quantity
from coordination.redis_client import AsyncCoordRedis

log = logging.getLogger(__name__)
_FILTERS = ("status", "agent_id", "agent_type", "runtime", "node", "labels")


class ContainerManager:
    """Creates, starts, stops and destroys agent containers; any process sees the same state."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        runtime: str | ContainerRuntime | None = None,
        client: AsyncCoordRedis | None = None,
    ):
        self.ctx = ContainerContext.build(settings, runtime=runtime, client=client)
        self.settings = self.ctx.settings
        self.resource_manager = self.ctx.resources
        self._health_task: asyncio.Task[None] | None = None
        self._health_stop = asyncio.Event()

    async def initialize(self, capacity: Mapping[str, Quantity] | None = None) -> None:
        """Check Redis, choose the runtime (auto: Docker if it answers), set the capacity.

        Without ``capacity`` a capacity already set (by another manager or an explicit
        ResourceManager.initialize) is kept; else ``container.resource_limits`` is used.
        """
        await self.ctx.client.ping()
        await self.ctx.default_runtime_name()
        await self.ctx.resources.initialize(capacity, keep_existing=capacity is None)

    @property
    def runtime_name(self) -> str:
        return self.ctx.runtimes.default_name

    # -- lifecycle ----------------------------------------------------------------------------
    async def create_container(
        self, config: ContainerConfig | Mapping[str, Any], container_id: str | None = None
    ) -> str:
        """Create a container if max_containers and the resource capacity allow; return its id."""
        return await lifecycle.create(self.ctx, ContainerConfig.parse(config), container_id)

    async def start_container(self, container_id: str) -> bool:
        await lifecycle.start(self.ctx, container_id)
        return True

    async def stop_container(
        self, container_id: str, force: bool = False, timeout: float | None = None
    ) -> bool:
        """Graceful (SIGTERM, then SIGKILL after ``timeout``/default_timeout) or forced."""
        return await lifecycle.stop(self.ctx, container_id, force=force, timeout=timeout)

    async def restart_container(self, container_id: str, timeout: float | None = None) -> bool:
        return await lifecycle.restart(self.ctx, container_id, timeout=timeout)

    async def pause_container(self, container_id: str) -> bool:
        return await lifecycle.pause(self.ctx, container_id)

    async def resume_container(self, container_id: str) -> bool:
        return await lifecycle.resume(self.ctx, container_id)

    async def destroy_container(self, container_id: str, force: bool = False) -> bool:
        """Stop it if it runs, release its resources, remove it from the runtime."""
        return await lifecycle.destroy(self.ctx, container_id, force=force)

    def get_container(self, container_id: str) -> AgentContainer:
        """An AgentContainer bound to this manager (logs, usage, inspect)."""
        return AgentContainer(container_id, context=self.ctx)

    # -- reads --------------------------------------------------------------------------------
    async def get_container_status(self, container_id: str) -> ContainerStatus:
        return (await self.ctx.store.get(container_id)).status

    async def get_container_info(self, container_id: str) -> ContainerInfo:
        return await self.ctx.store.get(container_id)

    async def list_containers(
        self, filters: Mapping[str, Any] | None = None
    ) -> list[ContainerInfo]:
        """Live containers, oldest first. Filters: status (one or a list), agent_id,
        agent_type, runtime, node, labels (a mapping every label must match)."""
        wanted = _check_filters(filters or {})
        return [info for info in await self.ctx.store.list_all() if _matches(info, wanted)]

    async def get_container_stats(self) -> dict[str, Any]:
        infos = await self.ctx.store.list_all()
        counters = await self.ctx.store.counters()
        by_status = Counter(str(info.status) for info in infos)
        started, failed = counters.get("started", 0), counters.get("start_failures", 0)
        return {
            "total_containers": len(infos),
            "running_containers": by_status.get(str(ContainerStatus.RUNNING), 0),
            "success_rate": started / (started + failed) if started + failed else 1.0,
            "restarts": counters.get("restarts", 0),
            "by_status": dict(by_status),
            "max_containers": self.settings.container.max_containers,
            **{name: counters.get(name, 0) for name in _COUNTERS},
        }

    async def get_logs(self, container_id: str, lines: int = 100) -> str:
        return await self.get_container(container_id).get_logs(lines)

    async def get_resource_usage(self, container_id: str) -> dict[str, Any]:
        return await self.get_container(container_id).get_resource_usage()

    # -- self-healing -------------------------------------------------------------------------
    async def check_health(self) -> HealReport:
        """One self-healing pass (idempotent; safe from several processes at once)."""
        return await heal_once(self.ctx)

    heal_once = check_health

    def start_health_loop(self, interval: float | None = None) -> None:
        """Run ``check_health`` every ``interval`` (default health_check_interval) seconds,
        sooner when a restart is due. For users without celery beat."""
        if self._health_task is not None and not self._health_task.done():
            return
        every = interval or self.settings.container.health_check_interval
        self._health_stop = asyncio.Event()
        self._health_task = asyncio.create_task(self._health_loop(every), name="container-health")

    async def _health_loop(self, every: float) -> None:
        while not self._health_stop.is_set():
            wait = every
            try:
                report = await self.check_health()
                if report.next_due_in is not None:
                    wait = min(every, max(report.next_due_in, 0.05))
            except Exception:
                log.exception("container health pass failed; retrying in %.1fs", every)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._health_stop.wait(), wait)

    async def stop_health_loop(self) -> None:
        self._health_stop.set()
        if self._health_task is not None:
            await self._health_task
            self._health_task = None

    async def close(self) -> None:
        await self.stop_health_loop()
        await self.ctx.close()

    async def __aenter__(self) -> ContainerManager:
        await self.initialize()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


_COUNTERS = ("created", "started", "start_failures", "stopped", "exits", "errors", "destroyed")


def _check_filters(filters: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in filters.items():
        if name not in _FILTERS:
            raise InvalidInputError(
                f"filters.{name}", f"unknown filter (use {', '.join(_FILTERS)})"
            )
        if name == "status":
            values = [value] if isinstance(value, str) else list(value)
            try:
                out[name] = {ContainerStatus(v) for v in values}
            except ValueError:
                raise InvalidInputError("filters.status", f"unknown status in {value!r}") from None
        elif name == "labels":
            if not isinstance(value, Mapping):
                raise InvalidInputError("filters.labels", "must be a mapping of label to value")
            out[name] = dict(value)
        else:
            out[name] = str(value)
    return out


def _matches(info: ContainerInfo, wanted: Mapping[str, Any]) -> bool:
    for name, value in wanted.items():
        if name == "status":
            if info.status not in value:
                return False
        elif name == "labels":
            if any(info.config.labels.get(k) != v for k, v in value.items()):
                return False
        elif getattr(info, name) != value:
            return False
    return True
