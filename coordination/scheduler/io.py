"""Sans-I/O plumbing: operations are generators that yield requests and receive replies.

Every scheduler method is written once as a generator (``coordination.scheduler.operations``)
that yields ``Script``/``Command``/``Batch`` requests; ``run_sync`` and ``run_async`` execute
them with a sync or an asyncio client. So the sync and async schedulers share all logic.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, TypeVar

import redis
import redis.asyncio

from coordination.scripts import Scripts

T = TypeVar("T")


def _untyped(client: Any) -> Any:
    """redis-py's execute_command is untyped; keep that out of strict mypy."""
    return client


@dataclass(frozen=True)
class Script:
    """Run ``coordination/lua/<name>.lua``."""

    name: str
    keys: list[str]
    args: list[Any]


@dataclass(frozen=True)
class Command:
    """One plain Redis command (reads, BLMOVE)."""

    args: tuple[Any, ...]


@dataclass(frozen=True)
class Batch:
    """Several requests in one round trip (a non-transactional pipeline); replies in order."""

    ops: tuple[Script | Command, ...]


Request = Script | Command | Batch
Operation = Generator[Request, Any, T]


def run_sync(client: redis.Redis, scripts: Scripts, op: Operation[T]) -> T:
    reply: Any = None
    try:
        while True:
            request = op.send(reply)
            reply = _execute_sync(client, scripts, request)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


def _execute_sync(client: redis.Redis, scripts: Scripts, request: Request) -> Any:
    if isinstance(request, Script):
        return scripts.call(request.name, request.keys, request.args)
    if isinstance(request, Command):
        return _untyped(client).execute_command(*request.args)
    if not request.ops:
        return []
    pipe = client.pipeline(transaction=False)
    calls = _queue(pipe, scripts, request)
    return scripts.settle(pipe.execute(raise_on_error=False), calls)


def _queue(
    pipe: Any, scripts: Scripts, request: Batch
) -> list[tuple[str, list[str], list[Any]] | None]:
    """Queue a batch as bare EVALSHAs (no SCRIPT EXISTS round trip); NOSCRIPT is settled
    afterwards by running the affected entries again on their own."""
    calls: list[tuple[str, list[str], list[Any]] | None] = []
    for item in request.ops:
        if isinstance(item, Script):
            scripts.queue(pipe, item.name, item.keys, item.args)
            calls.append((item.name, item.keys, item.args))
        else:
            _untyped(pipe).execute_command(*item.args)
            calls.append(None)
    return calls


async def run_async(client: redis.asyncio.Redis, scripts: Scripts, op: Operation[T]) -> T:
    reply: Any = None
    try:
        while True:
            request = op.send(reply)
            reply = await _execute_async(client, scripts, request)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


async def _execute_async(client: redis.asyncio.Redis, scripts: Scripts, request: Request) -> Any:
    if isinstance(request, Script):
        return await scripts.acall(request.name, request.keys, request.args)
    if isinstance(request, Command):
        return await _untyped(client).execute_command(*request.args)
    if not request.ops:
        return []
    pipe = client.pipeline(transaction=False)
    calls = _queue(pipe, scripts, request)
    return await scripts.asettle(await pipe.execute(raise_on_error=False), calls)
