"""Task scheduling: Redis priority queues, Lua binding with leases and fencing, policies.

``TaskScheduler`` (asyncio) and ``SyncTaskScheduler`` (sync) share one implementation.
Priorities run from PRIORITY_MIN (-100) to PRIORITY_MAX (100); higher runs first.
"""

from coordination.enums import PolicyType, SchedulingStrategy, TaskStatus
from coordination.scheduler.models import (
    PRIORITY_MAX,
    PRIORITY_MIN,
    Assignment,
    TaskInfo,
    TaskSpec,
    TaskWaitTimeout,
    TransitionResult,
    WorkerInfo,
)
from coordination.scheduler.resource_allocator import ResourceAllocator
from coordination.scheduler.scheduling_policy import SchedulingPolicy
from coordination.scheduler.sync_scheduler import SyncTaskScheduler
from coordination.scheduler.task_scheduler import TaskScheduler

__all__ = [
    "PRIORITY_MAX",
    "PRIORITY_MIN",
    "Assignment",
    "PolicyType",
    "ResourceAllocator",
    "SchedulingPolicy",
    "SchedulingStrategy",
    "SyncTaskScheduler",
    "TaskInfo",
    "TaskScheduler",
    "TaskSpec",
    "TaskStatus",
    "TaskWaitTimeout",
    "TransitionResult",
    "WorkerInfo",
]
