"""The seed's registry examples (coordination-domain.md), run as written against real Redis."""

from __future__ import annotations

import pytest

from coordination.redis_client import CoordRedis
from tests.redis_server import RedisServer


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, redis_server: RedisServer, namespace: str) -> None:
    # The seed constructs everything without arguments: settings come from the environment.
    monkeypatch.setenv("COORD_REDIS__URL", redis_server.url)
    monkeypatch.setenv("COORD_REDIS__KEY_PREFIX", namespace)


async def test_seed_registry_discovery_and_health_examples(redis_client: CoordRedis) -> None:
    from coordination.registry import (
        HealthChecker,
        LoadBalancingStrategy,
        ServiceDiscovery,
        ServiceRegistry,
        ServiceStatus,
    )

    # 服务注册中心
    registry = ServiceRegistry()
    await registry.initialize()

    # 注册服务
    service_id = await registry.register_service(
        service_name="task_agent",
        service_type="agent",
        host="192.168.1.100",
        port=8080,
        health_check_url="http://192.168.1.100:8080/health",
    )

    # 健康检查器
    health_checker = HealthChecker(registry)
    await health_checker.initialize()

    # 注册自定义健康检查
    async def custom_health_check(service_info):  # type: ignore[no-untyped-def]
        # 自定义健康检查逻辑
        return True

    await health_checker.register_custom_health_check("task_agent", custom_health_check)
    await health_checker.run_once()

    # 查找服务
    services = await registry.find_services(service_name="task_agent", status=ServiceStatus.HEALTHY)
    assert [s.service_id for s in services] == [service_id]

    # 更新心跳
    await registry.update_heartbeat(service_id)

    # 服务发现
    discovery = ServiceDiscovery(registry)

    # 发现服务
    service = await discovery.discover_service(
        service_name="task_agent", strategy=LoadBalancingStrategy.ROUND_ROBIN
    )
    assert service is not None and service.service_id == service_id

    # 带故障转移的服务发现
    service = await discovery.discover_service_with_failover(
        service_name="task_agent", strategy=LoadBalancingStrategy.LEAST_CONNECTIONS
    )
    assert service is not None and service.host == "192.168.1.100"

    # 动态负载均衡
    service = await discovery.discover_service(
        service_name="task_agent", strategy=LoadBalancingStrategy.LEAST_LOADED
    )
    assert service is not None

    # 获取健康检查历史
    history = await health_checker.get_health_history(service_id, limit=50)
    assert len(history) == 1 and history[0].healthy

    # 获取注册中心统计
    registry_stats = await registry.get_registry_stats()
    line = f"健康服务: {registry_stats['healthy_services']} 总服务数: {registry_stats['total_services']}"
    assert line == "健康服务: 1 总服务数: 1"

    # 获取服务发现统计
    await discovery.report_success(service_id, response_time=12.5)
    discovery_stats = await discovery.get_service_stats("task_agent")
    assert f"平均响应时间: {discovery_stats['avg_response_time']:.2f}ms" == "平均响应时间: 12.50ms"

    await health_checker.close()
    await registry.close()


async def test_seed_full_example_registration_part(redis_client: CoordRedis) -> None:
    from coordination.registry import ServiceDiscovery, ServiceRegistry

    registry = ServiceRegistry()
    discovery = ServiceDiscovery(registry)
    await registry.initialize()

    # 注册服务
    service_id = await registry.register_service(
        service_name="task_agent", service_type="agent", host="localhost", port=8080
    )

    # 发现服务并执行任务
    service = await discovery.discover_service("task_agent")
    assert service is not None and service.service_id == service_id
    await registry.close()
