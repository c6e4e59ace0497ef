"""The processes of one demo round: workers, beat and an agent container, all on one strategy.

A worker reads ``scheduler.default_strategy`` when it starts, so each round starts a fresh set
(named after the round's strategy) and stops it before the next round begins.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path

from coordination.config import Settings
from coordination.container import ContainerConfig, ContainerManager
from coordination.processes import ProcessGroup, beat_args, celery_command, worker_args
from coordination.scheduler import TaskScheduler

DEMO_TASKS = "coordination.demo.tasks"
AGENT_LABEL = "agent"


@dataclass(frozen=True)
class WorkerPlan:
    label: str
    concurrency: int
    weight: int


def worker_plans(quick: bool) -> list[WorkerPlan]:
    """Workers of different size and weight, so the strategies visibly differ."""
    if quick:
        return [WorkerPlan("w1", 1, 1), WorkerPlan("w2", 2, 3)]
    return [WorkerPlan("w1", 1, 1), WorkerPlan("w2", 2, 2), WorkerPlan("w3", 3, 4)]


AGENT_PLAN = WorkerPlan(AGENT_LABEL, 1, 1)  # the agent container's `coord worker`


@dataclass
class AgentRecord:
    """The agent container of one round, as the summary reports it."""

    agent_id: str
    container_id: str
    runtime: str
    strategy: str
    worker_id: str
    state_while_running: str = ""
    state_at_end: str = ""
    tasks_completed: int = 0


@dataclass
class RoundCluster:
    """Start a round's processes, wait until every worker has registered, stop them all."""

    strategy: str
    env: dict[str, str]
    log_dir: Path
    plans: list[WorkerPlan]
    host: str = "demo"
    group: ProcessGroup | None = None
    labels: dict[str, str] = field(default_factory=dict)  # worker id -> label
    agent: AgentRecord | None = None

    def worker_id(self, label: str) -> str:
        return f"{label}-{self.strategy}@{self.host}"

    def start_processes(self) -> None:
        env = {**self.env, "COORD_SCHEDULER__DEFAULT_STRATEGY": self.strategy}
        self.group = ProcessGroup(env, self.log_dir / self.strategy)
        for plan in self.plans:
            worker_id = self.worker_id(plan.label)
            args = worker_args(worker_id, plan.concurrency, weight=plan.weight, loglevel="INFO")
            self.group.start(plan.label, celery_command(*args))
            self.labels[worker_id] = plan.label
        self.group.start("beat", celery_command(*beat_args("INFO")))

    async def start_agent(self, manager: ContainerManager, settings: Settings) -> AgentRecord:
        """An agent container that runs ``coord worker``: it registers and takes tasks."""
        worker_id = self.worker_id(AGENT_LABEL)
        docker = manager.runtime_name == "docker"
        command = ["coord", "worker", "--name", worker_id, "-c", str(AGENT_PLAN.concurrency)]
        command += ["--weight", str(AGENT_PLAN.weight), "--loglevel", "INFO"]
        config = ContainerConfig(
            agent_id=f"agent-{self.strategy.replace('_', '-')}",
            agent_type="demo-agent",
            command=command,
            environment={
                **_coord_env(self.env),
                "COORD_SCHEDULER__DEFAULT_STRATEGY": self.strategy,
            },
            image=settings.container.default_image if docker else None,
            network_mode="host" if docker else None,  # it must reach the demo's Redis
            stop_timeout=15,
        )
        container_id = await manager.create_container(config)
        await manager.start_container(container_id)
        self.labels[worker_id] = AGENT_LABEL
        self.agent = AgentRecord(
            config.agent_id, container_id, manager.runtime_name, self.strategy, worker_id
        )
        return self.agent

    async def wait_registered(self, scheduler: TaskScheduler, timeout: float) -> None:
        wanted = set(self.labels)
        deadline = time.monotonic() + timeout
        while True:
            seen = {w.worker_id for w in await scheduler.list_workers() if w.alive}
            if wanted <= seen:
                return
            exited = self.group.exited() if self.group else {}
            if exited or time.monotonic() > deadline:
                missing = ", ".join(sorted(wanted - seen))
                raise RuntimeError(
                    f"workers did not register: {missing} (exited: {exited or 'none'}; "
                    f"logs in {self.log_dir / self.strategy})"
                )
            await asyncio.sleep(0.1)  # polling with a deadline

    async def stop(self, manager: ContainerManager) -> None:
        """Warm shutdown of the workers and beat, and the agent container destroyed."""
        group = self.group
        stopping = asyncio.to_thread(group.stop, 20.0) if group else asyncio.sleep(0)
        await asyncio.gather(stopping, self._destroy_agent(manager))

    async def _destroy_agent(self, manager: ContainerManager) -> None:
        if self.agent is None:
            return
        await manager.stop_container(self.agent.container_id, timeout=15)
        await manager.destroy_container(self.agent.container_id, force=True)
        info = await manager.get_container_info(self.agent.container_id)
        self.agent.state_at_end = str(info.status)

    async def record_agent_state(self, manager: ContainerManager) -> None:
        if self.agent is not None:
            status = await manager.get_container_status(self.agent.container_id)
            self.agent.state_while_running = str(status)


def _coord_env(env: dict[str, str]) -> dict[str, str]:
    """Only our settings go into the container's environment (the manager adds the rest)."""
    return {k: v for k, v in env.items() if k.startswith("COORD_") and k != "COORD_REDIS__URL"}
