"""Task scheduling: Redis priority queues, Lua binding with leases and fencing, policies.

``TaskScheduler`` (asyncio) and ``SyncTaskScheduler`` (sync) share one implementation.
The priority range is documented in ``models``, the strategies in ``scheduling_policy``.
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
