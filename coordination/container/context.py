"""What the container operations share: settings, Redis store, runtimes, resource pool."""

from __future__ import annotations

import asyncio
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from coordination.config import Settings
from coordination.container.errors import ContainerRuntimeError
from coordination.container.models import ContainerInfo
from coordination.container.resource_manager import ResourceManager
from coordination.container.runtime.base import ContainerRuntime, RuntimeSpec
from coordination.container.runtime.select import RuntimeSet
from coordination.container.state import ContainerStore
from coordination.embedded import effective_url
from coordination.errors import InvalidInputError
from coordination.keys import Keys
from coordination.redis_client import AsyncCoordRedis, async_client

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")


def new_container_id() -> str:
    return "ctr-" + uuid.uuid4().hex[:16]


def check_container_id(container_id: object) -> str:
    if not isinstance(container_id, str) or not _ID_RE.fullmatch(container_id):
        raise InvalidInputError(
            "container_id", "must be 1-128 letters, digits, '_', '-' or '.', starting alphanumeric"
        )
    return container_id


@dataclass
class ContainerContext:
    settings: Settings
    client: AsyncCoordRedis
    keys: Keys
    store: ContainerStore
    runtimes: RuntimeSet
    resources: ResourceManager
    redis_url: str
    owns_client: bool

    @classmethod
    def build(
        cls,
        settings: Settings | None = None,
        *,
        runtime: str | ContainerRuntime | None = None,
        client: AsyncCoordRedis | None = None,
    ) -> ContainerContext:
        settings = settings or Settings.load()
        owns = client is None
        client = client or async_client(settings)
        keys = Keys(settings.redis.key_prefix)
        return cls(
            settings=settings,
            client=client,
            keys=keys,
            store=ContainerStore(client, keys),
            runtimes=RuntimeSet(runtime or settings.container.runtime, namespace=keys.prefix),
            resources=ResourceManager(settings, client=client),
            redis_url=settings.redis.url or effective_url(settings),
            owns_client=owns,
        )

    async def default_runtime_name(self) -> str:
        return await asyncio.to_thread(lambda: self.runtimes.default_name)

    async def runtime_for(self, info: ContainerInfo) -> ContainerRuntime:
        """The runtime that controls ``info``'s container, if it lives where we can reach it."""
        runtime = self.runtimes.get(info.runtime)
        node = await asyncio.to_thread(lambda: runtime.node)
        if node != info.node:
            raise ContainerRuntimeError(
                info.runtime,
                f"container {info.container_id} lives on {info.node}, this manager is on "
                f"{node}: control it from there",
            )
        return runtime

    def log_path(self, container_id: str) -> str:
        base = self.settings.container.log_dir
        root = Path(base) if base else Path(platformdirs.user_data_dir("coordination")) / "logs"
        return str(root / self.keys.prefix / f"{container_id}.log")

    def spec_for(self, info: ContainerInfo) -> RuntimeSpec:
        """The runtime's view of a stored record: defaults filled in, identity in the env."""
        config, cfg = info.config, self.settings.container
        names = {
            "agent_id": info.agent_id,
            "agent_type": info.agent_type,
            "container_id": info.container_id,
        }
        env = {
            "COORD_REDIS__URL": self.redis_url,
            "COORD_REDIS__KEY_PREFIX": self.keys.prefix,
            **config.environment,
            "COORD_AGENT_ID": info.agent_id,
            "COORD_AGENT_TYPE": info.agent_type,
            "COORD_CONTAINER_ID": info.container_id,
        }
        if info.runtime == "docker":
            image, command = config.image or cfg.default_image, config.command
        else:
            image = None
            command = config.command or [part.format(**names) for part in cfg.process_command]
        return RuntimeSpec(
            container_id=info.container_id,
            agent_id=info.agent_id,
            agent_type=info.agent_type,
            command=command,
            image=image,
            environment=env,
            labels=config.labels,
            resources=info.resources,
            network_mode=config.network_mode or cfg.network_mode,
            working_dir=config.working_dir,
            log_path=info.log_path,
        )

    def stop_timeout(self, info: ContainerInfo, timeout: float | None) -> float:
        if timeout is not None:
            if timeout < 0:
                raise InvalidInputError("timeout", "must be >= 0 seconds")
            return timeout
        return info.config.stop_timeout or self.settings.container.default_timeout

    async def close(self) -> None:
        await asyncio.to_thread(self.runtimes.close)
        if self.owns_client:
            await self.client.aclose()
