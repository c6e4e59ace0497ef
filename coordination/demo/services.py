"""The demo's registry part: two local HTTP services registered with health checks.

One answers 200 and ends HEALTHY; the other answers 500 and ends UNHEALTHY after
``registry.failures_before_unhealthy`` failed checks in a row (the flap threshold).
"""

from __future__ import annotations

from dataclasses import dataclass

from coordination.demo.http_services import HttpService
from coordination.enums import ServiceStatus
from coordination.registry import HealthChecker, ServiceRegistry


@dataclass
class ServiceSummary:
    name: str
    service_id: str
    url: str
    expected: str
    status: str
    checks_passed: int
    checks_failed: int


@dataclass
class DemoServices:
    registry: ServiceRegistry
    checker: HealthChecker
    services: list[tuple[HttpService, str, ServiceStatus]]  # server, service id, expected

    @classmethod
    async def start(cls, registry: ServiceRegistry) -> DemoServices:
        checker = HealthChecker(registry)
        await checker.initialize()
        demo = cls(registry, checker, [])
        plan = (
            ("demo-api", 200, ServiceStatus.HEALTHY),
            ("demo-billing", 500, ServiceStatus.UNHEALTHY),
        )
        for name, status, expected in plan:
            server = HttpService(name, status).start()
            service_id = await registry.register_service(
                service_name=name,
                service_type="http",
                host="127.0.0.1",
                port=server.port,
                health_check_url=server.health_url,
                metadata={"demo": True},
                ttl=3600,
            )
            demo.services.append((server, service_id, expected))
        return demo

    async def check(self) -> None:
        """Enough rounds of checks for both thresholds to apply."""
        cfg = self.registry.settings.registry
        for _ in range(max(cfg.failures_before_unhealthy, cfg.successes_before_healthy)):
            await self.checker.run_once()

    async def summarize(self) -> list[ServiceSummary]:
        out = []
        for server, service_id, expected in self.services:
            info = await self.registry.get_service(service_id)
            history = await self.checker.get_health_history(service_id, limit=100)
            out.append(
                ServiceSummary(
                    name=server.name,
                    service_id=service_id,
                    url=server.health_url if server.server else "",
                    expected=expected.value,
                    status=info.status.value if info else "missing",
                    checks_passed=sum(1 for h in history if h.healthy),
                    checks_failed=sum(1 for h in history if not h.healthy),
                )
            )
        return out

    async def stop(self) -> None:
        for server, service_id, _ in self.services:
            await self.registry.deregister_service(service_id)
            server.stop()
        await self.checker.close()
