"""The probes a HealthChecker runs: HTTP GET, TCP connect, or a user's callable.

Each returns None when healthy or a short error string; the caller applies the timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Awaitable, Callable

import httpx

from coordination.registry.models import ServiceInfo

CustomCheck = Callable[[ServiceInfo], Awaitable[bool] | bool]


async def http_check(client: httpx.AsyncClient, url: str) -> str | None:
    """Healthy on any 2xx answer to GET ``url`` (redirects are not followed)."""
    response = await client.get(url)
    if 200 <= response.status_code < 300:
        return None
    return f"HTTP {response.status_code}"


async def tcp_check(host: str, port: int) -> str | None:
    """Healthy when a TCP connection to host:port opens."""
    _, writer = await asyncio.open_connection(host, port)
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return None


async def custom_check(fn: CustomCheck, info: ServiceInfo) -> str | None:
    """Healthy when ``fn(info)`` returns (or resolves to) a truthy value."""
    result = fn(info)
    if inspect.isawaitable(result):
        result = await result
    return None if result else "custom check returned False"


def describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return "timed out"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:500]
