"""Service registry, discovery and health checking on Redis (TTL heartbeats)."""

from coordination.enums import LoadBalancingStrategy, ServiceStatus
from coordination.registry.discovery import ServiceDiscovery, SyncServiceDiscovery
from coordination.registry.health_checker import HealthChecker
from coordination.registry.models import HealthRecord, ServiceInfo
from coordination.registry.service_registry import ServiceRegistry, SyncServiceRegistry

__all__ = [
    "HealthChecker",
    "HealthRecord",
    "LoadBalancingStrategy",
    "ServiceDiscovery",
    "ServiceInfo",
    "ServiceRegistry",
    "ServiceStatus",
    "SyncServiceDiscovery",
    "SyncServiceRegistry",
]
