"""Following a round: progress bar updates, polling the task records, Flower's liveness."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import httpx
from rich.progress import Progress, TaskID

from coordination.scheduler import TaskInfo, TaskScheduler

Advance = Callable[[str | None, int], None]


def advancer(progress: Progress, bar: TaskID) -> Advance:
    def advance(description: str | None, done: int) -> None:
        if description is None:
            progress.advance(bar, done)
        else:
            progress.update(bar, description=description, advance=done)

    return advance


async def watch(
    scheduler: TaskScheduler,
    roles: list[str],
    ids: list[str],
    advance: Advance,
    deadline: float,
) -> list[tuple[str, TaskInfo]]:
    """Poll until every task is terminal; cancel the 'cancel' task once it has started."""
    final: dict[str, TaskInfo] = {}
    cancel_id = ids[roles.index("cancel")]
    cancelled = False
    while len(final) < len(ids):
        pending = [task_id for task_id in ids if task_id not in final]
        for task_id, info in zip(pending, await read_tasks(scheduler, pending), strict=True):
            if info.is_terminal:
                final[task_id] = info
                advance(None, 1)
            elif task_id == cancel_id and not cancelled and info.started_at is not None:
                cancelled = bool(await scheduler.cancel_task(task_id))
        if len(final) == len(ids):
            break
        if time.monotonic() > deadline:
            left = {roles[ids.index(t)] for t in ids if t not in final}
            raise TimeoutError(f"round did not finish in time; still open: {sorted(left)}")
        await asyncio.sleep(0.1)  # polling with a deadline
    return [(role, final[task_id]) for role, task_id in zip(roles, ids, strict=True)]


async def read_tasks(scheduler: TaskScheduler, task_ids: list[str]) -> list[TaskInfo]:
    infos = await asyncio.gather(*(scheduler.get_task(t) for t in task_ids))
    missing = [t for t, i in zip(task_ids, infos, strict=True) if i is None]
    if missing:
        raise RuntimeError(f"task records vanished: {missing}")
    return [i for i in infos if i is not None]


async def flower_answers(url: str, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(trust_env=False, timeout=2) as client:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(f"{url}/healthcheck")).status_code == 200:
                    return True
            await asyncio.sleep(0.2)  # polling with a deadline
    return False
