"""The container health pass beat runs: restart exited containers by policy (self-healing)."""

from __future__ import annotations

from typing import Any

from coordination.config import Settings
from coordination.container import ContainerManager


async def heal_containers(settings: Settings) -> dict[str, Any]:
    manager = ContainerManager(settings)
    try:
        await manager.initialize()
        report = await manager.check_health()
        return report.as_dict()
    finally:
        await manager.close()
