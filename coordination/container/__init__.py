"""Container management: agent containers on Docker or as local processes (seed API).

``ContainerManager`` runs the lifecycle and self-healing, ``AgentContainer`` drives one
container, ``ResourceManager`` holds host capacity. Records and the eight-state
``ContainerStatus`` machine live in Redis, so every process sees the same containers.
"""

from coordination.container.agent_container import AgentContainer
from coordination.container.container_manager import ContainerManager
from coordination.container.errors import ContainerRuntimeError
from coordination.container.healing import HealReport
from coordination.container.models import (
    ContainerConfig,
    ContainerInfo,
    ResourceLimits,
    ResourceUsage,
    RestartPolicy,
)
from coordination.container.resource_manager import ResourceManager
from coordination.container.runtime import (
    ContainerRuntime,
    DockerRuntime,
    ProcessRuntime,
    RuntimeSpec,
    RuntimeState,
)
from coordination.enums import ContainerStatus

__all__ = [
    "AgentContainer",
    "ContainerConfig",
    "ContainerInfo",
    "ContainerManager",
    "ContainerRuntime",
    "ContainerRuntimeError",
    "ContainerStatus",
    "DockerRuntime",
    "HealReport",
    "ProcessRuntime",
    "ResourceLimits",
    "ResourceManager",
    "ResourceUsage",
    "RestartPolicy",
    "RuntimeSpec",
    "RuntimeState",
]
