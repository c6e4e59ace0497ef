"""``coord demo``: the whole system on one machine, end to end, then a summary.

Steps: a private embedded Redis (unless ``redis.url`` is configured), Flower, two HTTP
services with health checks, then one round per scheduling strategy (workers of different
size and weight, beat and an agent container, all started for that strategy; the mixed
workload; everything of the round stopped), then the summary. ``keep`` leaves the last round,
Flower and Redis running until Ctrl-C.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import socket
import sys
import tempfile
import time
import uuid
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from rich.console import Console
from rich.progress import Progress

from coordination.config import Settings, mask_url
from coordination.container import ContainerManager
from coordination.demo.cluster import AGENT_PLAN, DEMO_TASKS, RoundCluster, worker_plans
from coordination.demo.progress import Advance, advancer, flower_answers, watch
from coordination.demo.report import DemoSummary, FlowerInfo, render
from coordination.demo.services import DemoServices
from coordination.demo.workload import SPECIALS, RoundSummary, build_workload, summarize_round
from coordination.embedded import EmbeddedRedis, answers, free_port
from coordination.enums import SchedulingStrategy
from coordination.errors import CoordinationError, InvalidInputError, RedisUnavailableError
from coordination.keys import Keys
from coordination.processes import ProcessGroup, celery_command, child_env, flower_args
from coordination.redis_client import sync_client
from coordination.registry import ServiceRegistry
from coordination.scheduler import TaskScheduler

QUICK_STRATEGIES = (SchedulingStrategy.PRIORITY, SchedulingStrategy.WEIGHTED_ROUND_ROBIN)

# Fast heartbeats and sweeps so a round takes seconds, not minutes.
DEMO_ENV = {
    "COORD_CELERY__IMPORTS": json.dumps([DEMO_TASKS]),
    "COORD_CELERY__HEARTBEAT_INTERVAL": "0.5",
    "COORD_CELERY__DISPATCH_INTERVAL": "0.5",
    "COORD_CELERY__TIMEOUT_GRACE": "2",
    "COORD_CELERY__BEAT_LOCK_TIMEOUT": "3",
    "COORD_CELERY__BEAT_MAX_LOOP_INTERVAL": "0.5",
    "COORD_SCHEDULER__WORKER_TTL": "3",
    "COORD_SCHEDULER__START_TIMEOUT": "10",
    "COORD_SCHEDULER__TASK_TIMEOUT_CHECK_INTERVAL": "1",
    "COORD_SCHEDULER__RETRY_BACKOFF_BASE": "0.2",
    "COORD_REGISTRY__HEALTH_CHECK_INTERVAL": "2",
}


class DemoFailed(CoordinationError):
    """A part of the demo did not start or a round did not finish; its logs are kept."""


class DemoOptions(BaseModel):
    """What ``coord demo`` was asked for (validated: bad values name the option)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    quick: bool = False
    keep: bool = False
    strategies: tuple[SchedulingStrategy, ...] | None = None
    work_tasks: int | None = Field(default=None, ge=1, le=2000)
    summary_json: Path | None = None
    flower_port: int | None = Field(default=None, ge=1, le=65535)
    round_timeout: float = Field(default=120.0, gt=0)

    @field_validator("strategies", mode="before")
    @classmethod
    def _known(cls, value: Any) -> Any:
        names = {s.value for s in SchedulingStrategy}
        for item in value or ():
            if str(item) not in names:
                raise ValueError(f"unknown strategy {item!r} (use {', '.join(sorted(names))})")
        return value

    @classmethod
    def parse(cls, **values: object) -> DemoOptions:
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise InvalidInputError.from_pydantic(exc) from None

    @property
    def rounds(self) -> tuple[SchedulingStrategy, ...]:
        if self.strategies:
            return self.strategies
        return QUICK_STRATEGIES if self.quick else tuple(SchedulingStrategy)

    @property
    def tasks_per_round(self) -> int:
        return self.work_tasks or (12 if self.quick else 30)


class PrivateRedis(EmbeddedRedis):
    """The embedded server in a session of its own: a Ctrl-C meant for the demo must not stop
    Redis before the demo has stopped what depends on it (exec keeps the pid, so stop() works)."""

    def command(self) -> list[str]:
        detach = "import os, sys; os.setsid(); os.execv(sys.argv[1], sys.argv[1:])"
        return [sys.executable, "-c", detach, *super().command()]


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class DemoRunner:
    """Runs the demo; every resource it starts is entered on one exit stack."""

    def __init__(
        self, options: DemoOptions, settings: Settings, config_file: Path | None, console: Console
    ):
        self.options = options
        self.user_settings = settings
        self.config_file = config_file
        self.console = console
        self.workdir = Path(tempfile.mkdtemp(prefix="coord-demo-"))
        self.log_dir = self.workdir / "logs"
        self.stack = AsyncExitStack()
        self.current: RoundCluster | None = None
        self.plans = worker_plans(options.quick)

    # -- setup --------------------------------------------------------------------------------
    def _redis(self) -> tuple[str, bool, str]:
        """(url, embedded?, key prefix): a private server unless a URL is configured."""
        configured = self.user_settings.redis.url
        if configured:
            if not answers(configured):
                raise RedisUnavailableError(mask_url(configured), RuntimeError("does not answer"))
            return configured, False, f"demo-{uuid.uuid4().hex[:8]}"
        server = PrivateRedis(self.workdir / "redis")
        url = server.start()
        self.stack.callback(server.stop)
        return url, True, self.user_settings.redis.key_prefix

    def _settings(self, url: str, prefix: str) -> Settings:
        return Settings.load(
            self.config_file,
            redis={"url": url, "key_prefix": prefix},
            scheduler={"retry_backoff_base": 0.2},
            container={"log_dir": str(self.log_dir / "containers")},
        )

    def _flower(self, env: dict[str, str], settings: Settings) -> FlowerInfo:
        port = self.options.flower_port or settings.celery.flower_port
        if self.options.flower_port is None and not _port_free(port):
            port = free_port()
        group = ProcessGroup(env, self.log_dir)
        group.start("flower", celery_command(*flower_args(settings, port)))
        self.stack.callback(group.stop, 10.0)
        return FlowerInfo(
            url=f"http://127.0.0.1:{port}",
            user=settings.celery.flower_user,
            password=settings.celery.flower_password.get_secret_value(),
            answered=False,
        )

    # -- the run ------------------------------------------------------------------------------
    async def run(self) -> DemoSummary:
        try:
            summary = await self._run()
        except Exception as exc:
            if not self.log_dir.exists():  # failed before starting anything: nothing to read
                self._remove_workdir(True)
            if isinstance(exc, RuntimeError | TimeoutError) or (
                isinstance(exc, OSError) and not isinstance(exc, CoordinationError)
            ):
                raise DemoFailed(f"{exc} (logs in {self.log_dir})") from exc
            raise
        self._remove_workdir(summary.ok)
        return summary

    async def _run(self) -> DemoSummary:
        began = time.monotonic()
        async with self.stack:
            url, embedded, prefix = self._redis()
            settings = self._settings(url, prefix)
            if not embedded:
                self.stack.callback(self._clean_namespace, settings)
            env = child_env(url, self.config_file, {**DEMO_ENV, "COORD_REDIS__KEY_PREFIX": prefix})
            flower = self._flower(env, settings)
            summary = DemoSummary(
                mask_url(url), embedded, prefix, flower, log_dir=str(self.log_dir)
            )
            summary.workers = [*self.plans, AGENT_PLAN]
            scheduler = TaskScheduler(settings)
            await scheduler.initialize()
            self.stack.push_async_callback(scheduler.close)
            registry = ServiceRegistry(settings)
            self.stack.push_async_callback(registry.close)
            manager = await self._manager(settings)
            services = await DemoServices.start(registry)
            self.stack.push_async_callback(services.stop)
            self.stack.push_async_callback(self._stop_current, manager)
            await services.check()
            await self._rounds(summary, env, settings, scheduler, manager)
            await services.check()
            summary.services = await services.summarize()
            flower.answered = await flower_answers(flower.url)
            summary.duration_s = round(time.monotonic() - began, 1)
            render(summary, self.console)
            if self.options.summary_json:
                summary.write_json(self.options.summary_json)
            if self.options.keep:
                await self._wait_for_interrupt(flower)
        return summary

    async def _manager(self, settings: Settings) -> ContainerManager:
        runtime = "docker" if settings.container.runtime == "docker" else "process"
        manager = ContainerManager(settings, runtime=runtime)
        await manager.initialize()
        self.stack.push_async_callback(manager.close)
        return manager

    async def _rounds(
        self,
        summary: DemoSummary,
        env: dict[str, str],
        settings: Settings,
        scheduler: TaskScheduler,
        manager: ContainerManager,
    ) -> None:
        strategies = self.options.rounds
        with Progress(console=self.console, transient=False) as progress:
            bars = {
                s: progress.add_task(
                    f"{s.value}: waiting", total=self.options.tasks_per_round + len(SPECIALS)
                )
                for s in strategies
            }
            for index, strategy in enumerate(strategies):
                last = index == len(strategies) - 1
                advance = advancer(progress, bars[strategy])
                result = await self._round(strategy, env, settings, scheduler, manager, advance)
                summary.strategies.append(result)
                if self.current and self.current.agent:
                    self.current.agent.tasks_completed = result.agent_tasks
                    summary.containers.append(self.current.agent)
                if not (last and self.options.keep):
                    await self._stop_current(manager)

    async def _round(
        self,
        strategy: SchedulingStrategy,
        env: dict[str, str],
        settings: Settings,
        scheduler: TaskScheduler,
        manager: ContainerManager,
        advance: Advance,
    ) -> RoundSummary:
        cluster = RoundCluster(strategy.value, env, self.log_dir, self.plans)
        self.current = cluster
        advance(f"{strategy.value}: starting workers, beat and the agent container", 0)
        cluster.start_processes()
        await cluster.start_agent(manager, settings)
        await cluster.wait_registered(scheduler, timeout=self.options.round_timeout)
        await cluster.record_agent_state(manager)
        advance(f"{strategy.value}: running", 0)
        began = time.monotonic()
        workload = build_workload(self.options.tasks_per_round)
        ids = await scheduler.submit_tasks([spec for _, spec in workload])
        roles = [role for role, _ in workload]
        infos = await watch(scheduler, roles, ids, advance, began + self.options.round_timeout)
        advance(f"{strategy.value}: done", 0)
        agent = cluster.agent.worker_id if cluster.agent else None
        return summarize_round(
            strategy.value, infos, cluster.labels, agent, time.monotonic() - began
        )

    async def _stop_current(self, manager: ContainerManager) -> None:
        cluster, self.current = self.current, None
        if cluster is not None:
            await cluster.stop(manager)

    async def _wait_for_interrupt(self, flower: FlowerInfo) -> None:
        self.console.print(
            f"[bold]--keep:[/bold] everything keeps running (Flower {flower.url}, logs in "
            f"{self.log_dir}); Ctrl-C stops it."
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        try:
            await stop.wait()
        finally:
            loop.remove_signal_handler(signal.SIGINT)
            _cancel_on_sigterm()
        self.console.print("stopping…")

    # -- teardown -----------------------------------------------------------------------------
    def _clean_namespace(self, settings: Settings) -> None:
        """On a configured Redis, remove what the demo wrote (an admin SCAN, not a hot path)."""
        keys = Keys(settings.redis.key_prefix)
        client = sync_client(settings)
        try:
            names = list(client.scan_iter(match=keys.pattern, count=1000))
            names.append(keys.celery.maintenance_queue)
            for chunk in range(0, len(names), 500):
                client.delete(*names[chunk : chunk + 500])
        finally:
            client.close()

    def _remove_workdir(self, ok: bool) -> None:
        """Logs are kept when something went wrong, so they can be read."""
        if ok:
            shutil.rmtree(self.workdir, ignore_errors=True)
        else:
            self.console.print(f"logs kept in {self.log_dir}")


async def run_demo(
    options: DemoOptions, settings: Settings, config_file: Path | None, console: Console
) -> DemoSummary:
    """Run the demo. SIGTERM cancels it like Ctrl-C does: everything started is stopped."""
    _cancel_on_sigterm()
    try:
        return await DemoRunner(options, settings, config_file, console).run()
    finally:
        asyncio.get_running_loop().remove_signal_handler(signal.SIGTERM)


def _cancel_on_sigterm() -> None:
    task = asyncio.current_task()
    if task is not None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
