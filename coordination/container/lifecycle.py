"""The container operations, written once: ContainerManager, AgentContainer and the health
pass all call these. Each state change is a CAS transition in Redis; runtime calls run in a
thread (the docker SDK blocks) between the transitions.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

from coordination.container.context import ContainerContext, check_container_id, new_container_id
from coordination.container.errors import ContainerRuntimeError
from coordination.container.models import ContainerConfig, ContainerInfo
from coordination.container.resource_manager import describe
from coordination.container.runtime.base import ContainerRuntime
from coordination.enums import ContainerStatus as S
from coordination.errors import CapacityError, InvalidInputError, InvalidTransitionError
from coordination.quantity import format_quantity

log = logging.getLogger(__name__)
_CLEARED_ON_START = ("exit_code", "stopped_at", "error", "restart_due_at")


async def create(
    ctx: ContainerContext, config: ContainerConfig, container_id: str | None = None
) -> str:
    """Record, reserve resources, create in the runtime; undo everything if a step fails."""
    cid = check_container_id(container_id) if container_id is not None else new_container_id()
    runtime_name = config.runtime or await ctx.default_runtime_name()
    if runtime_name == "process" and config.image and not config.command:
        raise InvalidInputError(
            "config.command", "the process runtime runs a command, not an image"
        )
    runtime = ctx.runtimes.get(runtime_name)
    node = await asyncio.to_thread(lambda: runtime.node)
    resources = config.normalized_resources()
    fields = {
        "agent_id": config.agent_id,
        "agent_type": config.agent_type,
        "runtime": runtime_name,
        "node": node,
        "handle": "",
        "config": config.model_dump_json(),
        "resources": json.dumps(resources),
        "log_path": ctx.log_path(cid) if runtime_name == "process" else "",
        "restarts": "0",
        "restart_attempt": "0",
    }
    await ctx.store.create(cid, fields, ctx.settings.container.max_containers)
    handle = ""
    try:
        if resources:
            await _reserve(ctx, cid, resources)
        info = await ctx.store.get(cid)
        handle = await asyncio.to_thread(runtime.create, ctx.spec_for(info))
        await ctx.store.transition(cid, S.CREATED, from_=[S.CREATED], set_={"handle": handle})
    except BaseException:
        await _undo_create(ctx, runtime, cid, handle, bool(resources))
        raise
    return cid


async def _reserve(ctx: ContainerContext, cid: str, resources: dict[str, int]) -> None:
    # The pool parses quantities itself: hand it back the normalized amounts as quantities.
    wanted = {name: format_quantity(name, amount) for name, amount in resources.items()}
    result = await ctx.resources.allocate(cid, wanted)
    if not result.granted:
        status = await ctx.resources.status()
        raise CapacityError(
            f"{cid}: resources do not fit now: wants {describe(resources)}, "
            f"available {describe(status.available)}"
        )


async def _undo_create(
    ctx: ContainerContext, runtime: ContainerRuntime, cid: str, handle: str, reserved: bool
) -> None:
    try:
        if reserved:
            await ctx.resources.release_resources(cid)
        await ctx.store.abort(cid)
        if handle:
            await asyncio.to_thread(runtime.remove, handle)
    except Exception:
        log.exception("container %s: cleanup after a failed create failed", cid)


async def start(ctx: ContainerContext, cid: str) -> ContainerInfo:
    """CREATED/STOPPED -> STARTING -> RUNNING (a pending self-healing restart is cancelled)."""
    info = await ctx.store.get(cid)
    runtime = await ctx.runtime_for(info)
    await ctx.store.transition(cid, S.STARTING, delete=["restart_due_at"])
    return await launch(ctx, info, runtime, restart=False)


async def launch(
    ctx: ContainerContext, info: ContainerInfo, runtime: ContainerRuntime, *, restart: bool
) -> ContainerInfo:
    """Run the runtime's start for a record in STARTING, then move it to RUNNING (new epoch)."""
    cid = info.container_id
    try:
        handle = await asyncio.to_thread(runtime.start, info.handle, ctx.spec_for(info))
    except ContainerRuntimeError as exc:
        await _start_failed(ctx, info, restart, str(exc))
        raise
    stats = {"started": 1, "restarts": 1} if restart else {"started": 1}
    await ctx.store.transition(
        cid,
        S.RUNNING,
        from_=[S.STARTING],
        set_={"handle": handle, "started_at": "$now"},
        delete=_CLEARED_ON_START,
        incr={"restarts": 1} if restart else None,
        stats=stats,
        bump_epoch=True,
    )
    return await ctx.store.get(cid)


async def _start_failed(
    ctx: ContainerContext, info: ContainerInfo, restart: bool, why: str
) -> None:
    if restart:  # counts as one more failed attempt: backoff again, or ERROR past the cap
        await exited(ctx, info, S.STARTING, None, f"restart failed: {why}")
        return
    await ctx.store.transition(
        info.container_id,
        S.ERROR,
        from_=[S.STARTING],
        set_={"error": f"start failed: {why}"},
        stats={"start_failures": 1, "errors": 1},
    )


async def exited(
    ctx: ContainerContext, info: ContainerInfo, expected: S, exit_code: int | None, reason: str
) -> str:
    cfg = ctx.settings.container
    max_restarts = info.config.max_restarts
    decision = await ctx.store.exited(
        info.container_id,
        expected=expected,
        epoch=info.epoch,
        exit_code=exit_code,
        policy=str(info.config.restart_policy),
        max_restarts=cfg.max_restarts if max_restarts is None else max_restarts,
        backoff_ms=(int(cfg.restart_backoff_base * 1000), int(cfg.restart_backoff_max * 1000)),
        reset_after_ms=int(cfg.restart_reset_after * 1000),
        reason=reason,
    )
    return decision.action


async def stop(
    ctx: ContainerContext, cid: str, *, force: bool = False, timeout: float | None = None
) -> bool:
    """RUNNING/PAUSED -> STOPPING -> STOPPED: SIGTERM, SIGKILL after the timeout (or at once)."""
    info = await ctx.store.get(cid)
    if info.status is S.STOPPED and info.restart_due_at is not None:
        # Exited and waiting for a self-healing restart: stopping means "don't restart it".
        await ctx.store.transition(cid, S.STOPPED, from_=[S.STOPPED], delete=["restart_due_at"])
        return True
    runtime = await ctx.runtime_for(info)
    wait = ctx.stop_timeout(info, timeout)
    await ctx.store.transition(cid, S.STOPPING)
    try:
        if force:
            code = await asyncio.to_thread(runtime.kill, info.handle)
        else:
            code = await asyncio.to_thread(runtime.stop, info.handle, wait)
    except ContainerRuntimeError as exc:
        await ctx.store.transition(
            cid,
            S.ERROR,
            from_=[S.STOPPING],
            set_={"error": f"stop failed: {exc}"},
            stats={"errors": 1},
        )
        raise
    done = {"stopped_at": "$now", "restart_attempt": 0}
    if code is not None:
        done["exit_code"] = code
    await ctx.store.transition(
        cid, S.STOPPED, set_=done, delete=["restart_due_at"], stats={"stopped": 1}
    )
    return True


async def restart(ctx: ContainerContext, cid: str, *, timeout: float | None = None) -> bool:
    info = await ctx.store.get(cid)
    if info.status in (S.RUNNING, S.PAUSED):
        await stop(ctx, cid, timeout=timeout)
    await start(ctx, cid)
    return True


async def pause(ctx: ContainerContext, cid: str) -> bool:
    info = await ctx.store.get(cid)
    runtime = await ctx.runtime_for(info)
    await ctx.store.transition(cid, S.PAUSED, epoch=info.epoch)
    try:
        await asyncio.to_thread(runtime.pause, info.handle)
    except ContainerRuntimeError:
        # Back to RUNNING: a PAUSED record is never health-checked, so an exit would go unseen.
        with contextlib.suppress(InvalidTransitionError):
            await ctx.store.transition(cid, S.RUNNING, from_=[S.PAUSED], epoch=info.epoch)
        raise
    return True


async def resume(ctx: ContainerContext, cid: str) -> bool:
    info = await ctx.store.get(cid)
    if info.status is not S.PAUSED:
        raise InvalidTransitionError(f"container {cid}: cannot go from {info.status} to running")
    runtime = await ctx.runtime_for(info)
    await asyncio.to_thread(runtime.unpause, info.handle)
    await ctx.store.transition(cid, S.RUNNING, from_=[S.PAUSED], epoch=info.epoch)
    return True


async def destroy(ctx: ContainerContext, cid: str, *, force: bool = False) -> bool:
    """Stop if needed, mark DESTROYED (CAS), release its resources, remove it from the runtime."""
    info = await ctx.store.get(cid)
    if info.status in (S.RUNNING, S.PAUSED):
        await stop(ctx, cid, force=force)
    elif info.status in (S.STARTING, S.STOPPING):
        raise InvalidTransitionError(f"container {cid}: cannot go from {info.status} to destroyed")
    runtime = await ctx.runtime_for(info)
    ttl_ms = int(ctx.settings.container.destroyed_ttl * 1000)
    await ctx.store.transition(cid, S.DESTROYED, ttl_ms=ttl_ms, stats={"destroyed": 1})
    await release_pending(ctx, [cid])
    try:
        await asyncio.to_thread(runtime.remove, info.handle)
    except ContainerRuntimeError:
        # The record is gone already; the health pass removes Docker leftovers by label.
        log.warning("container %s destroyed but its runtime removal failed", cid, exc_info=True)
    return True


async def release_pending(ctx: ContainerContext, ids: list[str]) -> None:
    """Release destroyed containers' resources and clear them from the outbox."""
    for cid in ids:
        await ctx.resources.release_resources(cid)
        await ctx.store.released(cid)


async def info_and_runtime(
    ctx: ContainerContext, cid: str
) -> tuple[ContainerInfo, ContainerRuntime]:
    info = await ctx.store.get(cid)
    return info, await ctx.runtime_for(info)
