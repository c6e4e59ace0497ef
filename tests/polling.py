"""Polling with a deadline: how tests (and benchmarks) wait for something to become true.

Never a fixed sleep as synchronization: the condition is checked until it holds, and a
timeout fails the caller with what it was waiting for.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any


def wait_for(
    check: Callable[[], Any],
    timeout: float = 10.0,
    what: str = "the condition",
    *,
    interval: float = 0.02,
) -> Any:
    """Call ``check`` until it returns something truthy and return that."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {value!r})")
        time.sleep(interval)


async def await_for(
    check: Callable[[], Awaitable[Any]],
    timeout: float = 10.0,
    what: str = "the condition",
    *,
    interval: float = 0.02,
) -> Any:
    """Await ``check()`` until it returns something truthy and return that."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {value!r})")
        await asyncio.sleep(interval)
