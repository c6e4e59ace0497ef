"""Self-healing: one idempotent pass that finds containers whose process died and restarts
them by their restart policy with exponential backoff, marking ERROR past the cap.

Safe from several processes at once: every decision is a CAS on status and epoch in Redis,
so an exit is acted on once and a due restart is claimed by one pass only.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from coordination.container import lifecycle
from coordination.container.context import ContainerContext
from coordination.container.errors import ContainerRuntimeError
from coordination.container.models import ContainerInfo
from coordination.container.runtime.base import ContainerRuntime
from coordination.container.runtime.docker import DockerRuntime
from coordination.enums import ContainerStatus as S
from coordination.errors import InvalidTransitionError, NotFoundError

log = logging.getLogger(__name__)


@dataclass
class HealReport:
    checked: int = 0
    exited: list[str] = field(default_factory=list)
    restarted: list[str] = field(default_factory=list)
    errored: list[str] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)
    swept: list[str] = field(default_factory=list)
    orphans_removed: list[str] = field(default_factory=list)
    unreachable: list[str] = field(default_factory=list)  # runtimes we could not ask
    next_due_in: float | None = None  # seconds until the next scheduled restart

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def heal_once(ctx: ContainerContext) -> HealReport:
    report = HealReport(swept=await ctx.store.sweep())
    await lifecycle.release_pending(ctx, await ctx.store.pending_releases())
    groups: dict[str, list[ContainerInfo]] = defaultdict(list)
    for info in await ctx.store.list_all():
        groups[info.runtime].append(info)
    for name, infos in groups.items():
        try:
            runtime = ctx.runtimes.get(name)
            node = await asyncio.to_thread(lambda r=runtime: r.node)  # type: ignore[misc]
        except ContainerRuntimeError as exc:
            report.unreachable.append(f"{name}: {exc}")
            continue
        mine = [info for info in infos if info.node == node]
        try:
            await _check_group(ctx, runtime, mine, report)
        except ContainerRuntimeError as exc:
            report.unreachable.append(f"{name}: {exc}")
    return report


async def _check_group(
    ctx: ContainerContext, runtime: ContainerRuntime, infos: list[ContainerInfo], report: HealReport
) -> None:
    running = [i for i in infos if i.status is S.RUNNING and i.handle]
    report.checked += len(running)
    states = await asyncio.to_thread(runtime.states, [i.handle for i in running])
    for info in running:
        state = states[info.handle]
        if state.running:
            continue
        code = "unknown" if state.exit_code is None else str(state.exit_code)
        reason = f"exited unexpectedly (code {code}; {state.detail})"
        action = await lifecycle.exited(ctx, info, S.RUNNING, state.exit_code, reason)
        if action != "skip":
            report.exited.append(info.container_id)
        if action == "error":
            report.errored.append(info.container_id)
        elif action == "stopped":
            report.stopped.append(info.container_id)
    await _restart_due(ctx, runtime, [i.container_id for i in infos], report)
    if isinstance(runtime, DockerRuntime):
        await _remove_orphans(ctx, runtime, report)


async def _restart_due(
    ctx: ContainerContext, runtime: ContainerRuntime, ids: list[str], report: HealReport
) -> None:
    now = await ctx.store.server_time()
    for cid in ids:
        try:
            info = await ctx.store.get(cid)
        except NotFoundError:
            continue
        if info.status is not S.STOPPED or info.restart_due_at is None:
            continue
        if info.restart_due_at > now:
            wait = info.restart_due_at - now
            report.next_due_in = (
                wait if report.next_due_in is None else min(report.next_due_in, wait)
            )
            continue
        await _restart(ctx, runtime, info, report)


async def _restart(
    ctx: ContainerContext, runtime: ContainerRuntime, info: ContainerInfo, report: HealReport
) -> None:
    cid = info.container_id
    try:  # claim: only one pass wins the CAS on a due restart
        await ctx.store.transition(cid, S.STARTING, from_=[S.STOPPED], due=True, epoch=info.epoch)
    except (InvalidTransitionError, NotFoundError):
        return
    try:
        await lifecycle.launch(ctx, info, runtime, restart=True)
    except ContainerRuntimeError as exc:
        log.warning("container %s: self-healing restart failed: %s", cid, exc)
        latest = await ctx.store.get(cid)
        if latest.status is S.ERROR:
            report.errored.append(cid)
        return
    report.restarted.append(cid)


async def _remove_orphans(
    ctx: ContainerContext, runtime: DockerRuntime, report: HealReport
) -> None:
    """Engine containers of our namespace whose record is gone or destroyed (a failed remove).

    Listed first, checked after: a record is always written before its engine container, so
    a container whose record is missing after the listing is truly orphaned.
    """
    labelled = await asyncio.to_thread(runtime.namespace_containers)
    for handle, cid in labelled.items():
        try:
            info = await ctx.store.get(cid)
        except NotFoundError:
            info = None
        if info is None or info.status is S.DESTROYED:
            await asyncio.to_thread(runtime.remove, handle)
            report.orphans_removed.append(cid)
