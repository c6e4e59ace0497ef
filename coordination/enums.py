"""The seed's enums, in one place so config and every subsystem share them.

Each subsystem re-exports the ones it owns (``coordination.scheduler.SchedulingStrategy``
and so on), which is where users import them from.
"""

from __future__ import annotations

from enum import StrEnum


class ContainerStatus(StrEnum):
    CREATED = "created"
    STARTING = "starting"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPING = "stopping"
    STOPPED = "stopped"
    ERROR = "error"
    DESTROYED = "destroyed"


class ServiceStatus(StrEnum):
    """Health of a registered service instance.

    UNKNOWN: registered, not checked yet. HEALTHY: its checks pass (or it has none and
    heartbeats). UNHEALTHY: checks failed ``failures_before_unhealthy`` times in a row.
    OFFLINE: its TTL passed or it deregistered; kept for history, never discovered.
    """

    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"
    UNKNOWN = "unknown"
    OFFLINE = "offline"


class TaskStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL_TASK_STATES


_TERMINAL_TASK_STATES = frozenset(
    {TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED, TaskStatus.TIMEOUT}
)


class SchedulingStrategy(StrEnum):
    """FIFO and PRIORITY choose the next task; the others choose the worker."""

    FIFO = "fifo"
    PRIORITY = "priority"
    ROUND_ROBIN = "round_robin"
    LEAST_LOADED = "least_loaded"
    WEIGHTED_ROUND_ROBIN = "weighted_round_robin"


class PolicyType(StrEnum):
    FIFO = "fifo"
    PRIORITY = "priority"
    ROUND_ROBIN = "round_robin"
    LEAST_LOADED = "least_loaded"
    WEIGHTED_ROUND_ROBIN = "weighted_round_robin"
    CUSTOM = "custom"


class LoadBalancingStrategy(StrEnum):
    ROUND_ROBIN = "round_robin"
    RANDOM = "random"
    WEIGHTED_ROUND_ROBIN = "weighted_round_robin"
    LEAST_CONNECTIONS = "least_connections"
    LEAST_LOADED = "least_loaded"
