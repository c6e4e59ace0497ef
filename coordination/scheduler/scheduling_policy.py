"""Scheduling policies: which task next, and which worker gets it.

Each ``SchedulingStrategy`` answers both questions:

=====================  ===============================  ===================================
strategy               task order                       worker choice
=====================  ===============================  ===================================
FIFO                   submit order, priority ignored   least loaded
PRIORITY               higher priority first, FIFO      least loaded
                       inside one priority
ROUND_ROBIN            as PRIORITY                      next fitting worker after the one
                                                        chosen last (cursor in Redis)
LEAST_LOADED           as PRIORITY                      lowest inflight/capacity, ties by
                                                        reported load, then worker id
WEIGHTED_ROUND_ROBIN   as PRIORITY                      smooth weighted round robin (nginx):
                                                        state in Redis
=====================  ===============================  ===================================

Workers are considered in byte order of their ids; only *fitting* workers count (alive, not
draining, serving the task's queue and type, a free slot, enough free resources). The next
task is the first one in order that fits some worker.

The built-in policies run inside the binding Lua script (``task_bind.lua``); this module's
``SchedulingPolicy`` is their Python reference, and tests hold the two to the same answers. A
subclass that overrides ``select_task``/``select_worker``, a ``PolicyType.CUSTOM`` policy, or a
policy configured with ``priority_weights`` runs in Python on a snapshot instead, and binds each
choice with a compare-and-set script.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from coordination.enums import PolicyType, SchedulingStrategy
from coordination.errors import InvalidInputError
from coordination.scheduler.models import TaskInfo, WorkerInfo

Order = Literal["fifo", "priority"]
Choice = Literal["rr", "ll", "wrr"]

BUILTIN: dict[str, tuple[Order, Choice]] = {
    "fifo": ("fifo", "ll"),
    "priority": ("priority", "ll"),
    "round_robin": ("priority", "rr"),
    "least_loaded": ("priority", "ll"),
    "weighted_round_robin": ("priority", "wrr"),
    "custom": ("priority", "ll"),
}

_OPTIONS = frozenset({"priority_weights"})


def parse_strategy(strategy: SchedulingStrategy | str | None) -> SchedulingStrategy | None:
    if strategy is None or isinstance(strategy, SchedulingStrategy):
        return strategy
    try:
        return SchedulingStrategy(strategy)
    except ValueError:
        choices = ", ".join(s.value for s in SchedulingStrategy)
        raise InvalidInputError(
            "strategy", f"unknown strategy {strategy!r} (use {choices})"
        ) from None


def _policy_type(value: PolicyType | SchedulingStrategy | str) -> PolicyType:
    try:
        return PolicyType(value.value if isinstance(value, SchedulingStrategy) else value)
    except ValueError:
        choices = ", ".join(p.value for p in PolicyType)
        raise InvalidInputError(
            "policy_type", f"unknown policy {value!r} (use {choices})"
        ) from None


class SchedulingPolicy:
    """A scheduling policy. Subclass and override ``select_task``/``select_worker`` to customize."""

    def __init__(
        self,
        policy_type: PolicyType | SchedulingStrategy | str = PolicyType.PRIORITY,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        self.policy_type = _policy_type(policy_type)
        self.config: dict[str, Any] = {}
        self._priority_weights: dict[str, float] = {}
        self._loads: dict[str, float] = {}
        self._rr_last: str | None = None
        self._wrr: dict[str, int] = {}
        if config:
            self.configure(config)

    # -- configuration -------------------------------------------------------------------
    def configure(self, config: Mapping[str, Any]) -> None:
        """Options: ``priority_weights`` {task_type: weight}: a task's priority is multiplied
        by the weight of its type (default 1) when ordering. Unknown options are refused."""
        if not isinstance(config, Mapping):
            raise InvalidInputError("config", "must be a mapping of option to value")
        for key in config:
            if key not in _OPTIONS:
                raise InvalidInputError(
                    f"config.{key}", f"unknown option (known: {sorted(_OPTIONS)})"
                )
        weights = config.get("priority_weights", self._priority_weights)
        if not isinstance(weights, Mapping) or not all(
            isinstance(k, str) and isinstance(v, int | float) and not isinstance(v, bool)
            for k, v in weights.items()
        ):
            raise InvalidInputError("config.priority_weights", "must map names to numbers")
        self._priority_weights = {k: float(v) for k, v in weights.items()}
        self.config.update(config)

    @property
    def order(self) -> Order:
        return BUILTIN[self.policy_type.value][0]

    @property
    def choice(self) -> Choice:
        return BUILTIN[self.policy_type.value][1]

    @property
    def runs_in_redis(self) -> bool:
        """True when the binding script computes exactly what this policy would."""
        cls = type(self)
        return (
            self.policy_type is not PolicyType.CUSTOM
            and cls.select_task is SchedulingPolicy.select_task
            and cls.select_worker is SchedulingPolicy.select_worker
            and cls.task_key is SchedulingPolicy.task_key
            and not self._priority_weights
        )

    # -- the two questions ---------------------------------------------------------------
    def task_key(self, task: TaskInfo) -> tuple[float, int, str]:
        """Sort key of the task order (smaller first)."""
        if self.order == "fifo":
            return (0.0, task.sequence, task.task_id)
        weight = self._priority_weights.get(task.task_type, 1.0)
        return (-task.priority * weight, task.sequence, task.task_id)

    def select_task(
        self,
        available_tasks: Iterable[TaskInfo],
        available_workers: Iterable[WorkerInfo] | None = None,
        **kwargs: Any,
    ) -> TaskInfo | None:
        """The first task in order that fits some worker (any task when no workers are given)."""
        workers = None if available_workers is None else list(available_workers)
        for task in sorted(available_tasks, key=self.task_key):
            if workers is None or any(w.fits(task) for w in workers):
                return task
        return None

    def select_worker(
        self, task: TaskInfo, available_workers: Iterable[WorkerInfo], **kwargs: Any
    ) -> WorkerInfo | None:
        """The fitting worker this policy's worker choice picks (None if none fits)."""
        ordered = sorted(available_workers, key=lambda w: w.worker_id)
        fitting = [w for w in ordered if w.fits(task)]
        if not fitting:
            return None
        if self.choice == "rr":
            return self._round_robin(fitting)
        if self.choice == "wrr":
            return self._weighted(fitting)
        return self._least_loaded(fitting)

    def update_worker_load(self, worker_id: str, load: float) -> None:
        """Record a worker's reported load (0..1); LEAST_LOADED breaks ties with it."""
        if isinstance(load, bool) or not isinstance(load, int | float) or not 0 <= load <= 1:
            raise InvalidInputError("load", f"must be a number from 0 to 1, got {load!r}")
        self._loads[worker_id] = float(load)

    # -- worker choices ------------------------------------------------------------------
    def _load_of(self, worker: WorkerInfo) -> float:
        return self._loads.get(worker.worker_id, worker.load)

    def _least_loaded(self, fitting: Sequence[WorkerInfo]) -> WorkerInfo:
        best = fitting[0]
        for w in fitting[1:]:
            x, y = w.inflight * best.capacity, best.inflight * w.capacity
            if x < y or (x == y and self._load_of(w) < self._load_of(best)):
                best = w
        return best

    def _round_robin(self, fitting: Sequence[WorkerInfo]) -> WorkerInfo:
        last = self._rr_last
        chosen = next((w for w in fitting if last is None or w.worker_id > last), fitting[0])
        self._rr_last = chosen.worker_id
        return chosen

    def _weighted(self, fitting: Sequence[WorkerInfo]) -> WorkerInfo:
        total = 0
        best: WorkerInfo | None = None
        for w in fitting:
            current = self._wrr.get(w.worker_id, w.current_weight) + w.weight
            self._wrr[w.worker_id] = current
            w.current_weight = current
            total += w.weight
            if best is None or current > best.current_weight:
                best = w
        assert best is not None
        self._wrr[best.worker_id] -= total
        best.current_weight -= total
        return best

    # -- one planning step, shared by the Python binding path and the reference ----------
    def next_assignment(
        self, tasks: Sequence[TaskInfo], workers: Sequence[WorkerInfo]
    ) -> tuple[TaskInfo, WorkerInfo] | None:
        """The next (task, worker) pair, skipping tasks no worker takes; None when done."""
        candidates = list(tasks)
        while candidates:
            task = self.select_task(candidates, workers)
            if task is None:
                return None
            worker = self.select_worker(task, workers)
            if worker is not None:
                return task, worker
            candidates = [t for t in candidates if t.task_id != task.task_id]
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.policy_type.value!r})"


def reference_dispatch(
    policy: SchedulingPolicy,
    tasks: Sequence[TaskInfo],
    workers: Sequence[WorkerInfo],
    limit: int,
    max_running: int,
) -> list[tuple[str, str]]:
    """What a push dispatch binds, computed in Python (mutates ``workers``' inflight/resources)."""
    remaining = list(tasks)
    out: list[tuple[str, str]] = []
    while len(out) < limit and max_running > 0:
        pair = policy.next_assignment(remaining, workers)
        if pair is None:
            break
        task, worker = pair
        worker.take(task)
        remaining = [t for t in remaining if t.task_id != task.task_id]
        out.append((task.task_id, worker.worker_id))
        max_running -= 1
    return out
