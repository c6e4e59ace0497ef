"""One factory for sync and asyncio Redis clients, with errors translated at this boundary.

Clients decode responses to ``str``. A connection error or timeout raised by any command or
pipeline becomes RedisUnavailableError naming the URL (password masked).
"""

from __future__ import annotations

from typing import Any, cast

import redis
import redis.asyncio
import redis.asyncio.client
import redis.asyncio.sentinel
import redis.client
import redis.sentinel
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from coordination.config import Settings, mask_url
from coordination.embedded import effective_url
from coordination.errors import RedisUnavailableError

_UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)


class CoordRedis(redis.Redis):
    """redis.Redis that raises RedisUnavailableError instead of connection errors."""

    coord_url: str = "redis://?"

    def execute_command(self, *args: Any, **options: Any) -> Any:
        try:
            return super().execute_command(*args, **options)
        except _UNREACHABLE as exc:
            raise RedisUnavailableError(self.coord_url, exc) from exc

    def pipeline(self, transaction: bool = True, shard_hint: str | None = None) -> CoordPipeline:
        pipe = CoordPipeline(self.connection_pool, self.response_callbacks, transaction, shard_hint)
        pipe.coord_url = self.coord_url
        return pipe


class CoordPipeline(redis.client.Pipeline):
    coord_url: str = "redis://?"

    def execute(self, raise_on_error: bool = True) -> list[Any]:
        try:
            return super().execute(raise_on_error)
        except _UNREACHABLE as exc:
            raise RedisUnavailableError(self.coord_url, exc) from exc


class AsyncCoordRedis(redis.asyncio.Redis):
    """redis.asyncio.Redis that raises RedisUnavailableError instead of connection errors."""

    coord_url: str = "redis://?"

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        try:
            return await super().execute_command(*args, **options)
        except _UNREACHABLE as exc:
            raise RedisUnavailableError(self.coord_url, exc) from exc

    def pipeline(
        self, transaction: bool = True, shard_hint: str | None = None
    ) -> AsyncCoordPipeline:
        pipe = AsyncCoordPipeline(
            self.connection_pool, self.response_callbacks, transaction, shard_hint
        )
        pipe.coord_url = self.coord_url
        return pipe


class AsyncCoordPipeline(redis.asyncio.client.Pipeline):
    coord_url: str = "redis://?"

    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        try:
            return await super().execute(raise_on_error)
        except _UNREACHABLE as exc:
            raise RedisUnavailableError(self.coord_url, exc) from exc


def _connection_kwargs(settings: Settings) -> dict[str, Any]:
    cfg = settings.redis
    kwargs: dict[str, Any] = {
        "decode_responses": True,
        "socket_timeout": cfg.socket_timeout,
        "socket_connect_timeout": cfg.socket_connect_timeout,
        "health_check_interval": 30,
    }
    if cfg.username:
        kwargs["username"] = cfg.username
    if cfg.password is not None:
        kwargs["password"] = cfg.password.get_secret_value()
    if cfg.tls:
        kwargs["ssl"] = True
        kwargs["ssl_cert_reqs"] = cfg.tls_cert_reqs
        if cfg.tls_ca_certs:
            kwargs["ssl_ca_certs"] = cfg.tls_ca_certs
    return kwargs


def sentinel_url(settings: Settings) -> str:
    cfg = settings.redis.sentinel
    return f"redis+sentinel://{','.join(cfg.hosts)}/{cfg.master_name}"


def _sentinel_args(settings: Settings) -> tuple[list[tuple[str, int]], dict[str, Any]]:
    cfg = settings.redis.sentinel
    nodes = [(h.rpartition(":")[0], int(h.rpartition(":")[2])) for h in cfg.hosts]
    return nodes, ({"password": cfg.password.get_secret_value()} if cfg.password else {})


def sync_client(settings: Settings, url: str | None = None) -> CoordRedis:
    """A sync client for ``url`` (default: the resolved URL of the settings)."""
    kwargs = _connection_kwargs(settings)
    if settings.redis.sentinel.hosts and url is None:
        nodes, sentinel_kwargs = _sentinel_args(settings)
        sentinels = redis.sentinel.Sentinel(nodes, sentinel_kwargs=sentinel_kwargs, **kwargs)
        client = cast(
            CoordRedis,
            sentinels.master_for(settings.redis.sentinel.master_name, redis_class=CoordRedis),
        )
        client.coord_url = sentinel_url(settings)
        return client
    target = url or effective_url(settings)
    # A blocking pool: past max_connections callers wait for a free connection instead of
    # failing with "Too many connections".
    pool = redis.BlockingConnectionPool.from_url(
        target,
        max_connections=settings.redis.max_connections,
        timeout=settings.redis.socket_timeout,
        **kwargs,
    )
    client = cast(CoordRedis, CoordRedis.from_pool(pool))  # from_pool: close() closes the pool
    client.coord_url = mask_url(target)
    return client


def async_client(settings: Settings, url: str | None = None) -> AsyncCoordRedis:
    """An asyncio client for ``url`` (default: the resolved URL of the settings)."""
    kwargs = _connection_kwargs(settings)
    if settings.redis.sentinel.hosts and url is None:
        nodes, sentinel_kwargs = _sentinel_args(settings)
        sentinels = redis.asyncio.sentinel.Sentinel(
            nodes, sentinel_kwargs=sentinel_kwargs, **kwargs
        )
        client = cast(
            AsyncCoordRedis,
            sentinels.master_for(settings.redis.sentinel.master_name, redis_class=AsyncCoordRedis),
        )
        client.coord_url = sentinel_url(settings)
        return client
    target = url or effective_url(settings)
    pool = redis.asyncio.BlockingConnectionPool.from_url(
        target,
        max_connections=settings.redis.max_connections,
        timeout=settings.redis.socket_timeout,
        **kwargs,
    )
    client = cast(AsyncCoordRedis, AsyncCoordRedis.from_pool(pool))
    client.coord_url = mask_url(target)
    return client
