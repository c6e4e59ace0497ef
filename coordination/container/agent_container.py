"""AgentContainer: one agent's container, driven through its runtime (seed API)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from coordination.config import Settings
from coordination.container import lifecycle
from coordination.container.context import ContainerContext, check_container_id
from coordination.container.models import ContainerConfig, ContainerInfo
from coordination.enums import ContainerStatus
from coordination.errors import InvalidInputError, NotFoundError

_GONE = (ContainerStatus.DESTROYED, ContainerStatus.CREATED)


class AgentContainer:
    """``AgentContainer(container_id, config)``: start() creates it first if it does not exist.

    Given a manager's context (``ContainerManager.get_container``) it shares that manager's
    Redis client and runtimes; standalone it opens its own (``close()`` releases them).
    """

    def __init__(
        self,
        container_id: str,
        config: ContainerConfig | Mapping[str, Any] | None = None,
        *,
        settings: Settings | None = None,
        context: ContainerContext | None = None,
    ):
        self.container_id = check_container_id(container_id)
        self.config = ContainerConfig.parse(config) if config is not None else None
        self._settings = settings
        self._ctx = context
        self._owns_ctx = context is None

    @property
    def context(self) -> ContainerContext:
        if self._ctx is None:
            self._ctx = ContainerContext.build(self._settings)
        return self._ctx

    async def exists(self) -> bool:
        try:
            info = await self.context.store.get(self.container_id)
        except NotFoundError:
            return False
        return info.status is not ContainerStatus.DESTROYED

    async def create(self) -> str:
        """Create it from ``config`` unless it exists already; return its id."""
        if await self.exists():
            return self.container_id
        if self.config is None:
            raise InvalidInputError(
                "config", f"container {self.container_id} does not exist: give a config"
            )
        return await lifecycle.create(self.context, self.config, self.container_id)

    async def start(self) -> bool:
        await self.create()
        await lifecycle.start(self.context, self.container_id)
        return True

    async def stop(self, force: bool = False, timeout: float | None = None) -> bool:
        return await lifecycle.stop(self.context, self.container_id, force=force, timeout=timeout)

    async def restart(self) -> bool:
        return await lifecycle.restart(self.context, self.container_id)

    async def pause(self) -> bool:
        return await lifecycle.pause(self.context, self.container_id)

    async def resume(self) -> bool:
        return await lifecycle.resume(self.context, self.container_id)

    async def destroy(self, force: bool = False) -> bool:
        return await lifecycle.destroy(self.context, self.container_id, force=force)

    async def info(self) -> ContainerInfo:
        return await self.context.store.get(self.container_id)

    async def get_status(self) -> ContainerStatus:
        return (await self.info()).status

    async def get_resource_usage(self) -> dict[str, Any]:
        """cpu_percent (100 = one core), memory_used / memory_limit (bytes), pids, running."""
        info = await self.info()
        if not info.handle or info.status in _GONE:
            return {
                "cpu_percent": 0.0,
                "memory_used": 0,
                "memory_limit": None,
                "pids": 0,
                "running": False,
            }
        runtime = await self.context.runtime_for(info)
        usage = await asyncio.to_thread(runtime.usage, info.handle)
        return usage.model_dump()

    async def get_logs(self, lines: int = 100) -> str:
        if isinstance(lines, bool) or not isinstance(lines, int) or lines < 1:
            raise InvalidInputError("lines", "must be a positive integer")
        info = await self.info()
        if not info.handle or info.status is ContainerStatus.DESTROYED:
            return ""  # removed together with the container
        runtime = await self.context.runtime_for(info)
        return await asyncio.to_thread(runtime.logs, info.handle, lines)

    async def inspect(self) -> dict[str, Any]:
        """The runtime's own description (Docker's inspect, or pid/rlimit/cwd for a process)."""
        info, runtime = await lifecycle.info_and_runtime(self.context, self.container_id)
        return await asyncio.to_thread(runtime.inspect, info.handle)

    async def close(self) -> None:
        if self._owns_ctx and self._ctx is not None:
            await self._ctx.close()
            self._ctx = None
