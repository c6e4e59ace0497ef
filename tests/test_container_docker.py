"""Docker runtime specifics, against the real engine (CI starts one; these never skip)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from coordination.container import (
    ContainerConfig,
    ContainerManager,
    ContainerRuntimeError,
    ContainerStatus,
    DockerRuntime,
    RuntimeSpec,
)
from coordination.container.runtime import RuntimeSet, docker_available
from coordination.container.runtime.docker import (
    LABEL_AGENT,
    LABEL_CONTAINER,
    LABEL_NAMESPACE,
    cpu_percent,
    create_args,
)
from coordination.redis_client import CoordRedis
from tests.docker_support import (
    TEST_IMAGE,
    container_settings,
    engine_error,
    ensure_test_image,
    remove_labelled_containers,
    wait_for,
)
from tests.redis_server import RedisServer

pytestmark = pytest.mark.docker
S = ContainerStatus


@pytest.fixture(scope="module")
def engine() -> Iterator[Any]:
    reason = engine_error()
    if reason is not None:
        pytest.fail(f"Docker tests need a running engine: {reason}")
    ensure_test_image()
    client = docker.from_env()
    yield client
    client.close()


@pytest.fixture
async def manager(
    engine: Any, redis_server: RedisServer, namespace: str, tmp_path: Path, redis_client: CoordRedis
) -> AsyncIterator[ContainerManager]:
    settings = container_settings(redis_server.url, namespace, tmp_path, runtime="docker")
    mgr = ContainerManager(settings)
    await mgr.initialize()
    yield mgr
    await mgr.close()
    remove_labelled_containers(f"{LABEL_NAMESPACE}={namespace}")


async def test_limits_labels_network_as_the_engine_sees_them(
    manager: ContainerManager, engine: Any, namespace: str
) -> None:
    config = ContainerConfig(
        agent_id="agent-d",
        agent_type="task_agent",
        resources={"cpu": "1.5", "memory": "96Mi"},
        labels={"team": "blue"},
        environment={"ENV": "production"},
    )
    cid = await manager.create_container(config)
    await manager.start_container(cid)
    info = await manager.get_container_info(cid)
    attrs = engine.containers.get(info.handle).attrs
    assert attrs["HostConfig"]["Memory"] == 96 * 1024 * 1024
    assert attrs["HostConfig"]["NanoCpus"] == 1_500_000_000
    assert attrs["HostConfig"]["NetworkMode"] == "none"
    labels = attrs["Config"]["Labels"]
    assert labels[LABEL_AGENT] == "agent-d" and labels[LABEL_CONTAINER] == cid
    assert labels[LABEL_NAMESPACE] == namespace and labels["team"] == "blue"
    assert "ENV=production" in attrs["Config"]["Env"]
    assert f"COORD_CONTAINER_ID={cid}" in attrs["Config"]["Env"]
    assert attrs["Config"]["Image"] == TEST_IMAGE
    # The cgroup the kernel enforces (cgroup v1 here; v2 file as a fallback).
    out = engine.containers.get(info.handle).exec_run(
        [
            "sh",
            "-c",
            "cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || cat /sys/fs/cgroup/cpu.max",
        ]
    )
    assert out.output.decode().split()[0] == "150000"


async def test_usage_from_stats(manager: ContainerManager) -> None:
    cid = await manager.create_container(
        ContainerConfig(
            agent_id="busy",
            command=["sh", "-c", "while :; do :; done"],
            resources={"memory": "64Mi"},
        )
    )
    await manager.start_container(cid)
    usage = await manager.get_resource_usage(cid)
    assert usage["running"] and usage["memory_limit"] == 64 * 1024 * 1024
    assert usage["memory_used"] > 0 and usage["cpu_percent"] > 5  # a busy loop shows up
    inspect = await manager.get_container(cid).inspect()
    assert inspect["State"]["Running"] is True


async def test_missing_image_is_a_clear_error_and_leaves_nothing(manager: ContainerManager) -> None:
    config = ContainerConfig(
        agent_id="noimg", image="coordination-test/does-not-exist:1", resources={"cpu": "1"}
    )
    with pytest.raises(ContainerRuntimeError, match="image not found"):
        await manager.create_container(config)
    assert await manager.list_containers() == []
    assert (await manager.resource_manager.get_resource_status())["allocated"]["cpu"] == 0


async def test_container_removed_behind_our_back_ends_in_error(
    manager: ContainerManager, engine: Any
) -> None:
    cid = await manager.create_container(ContainerConfig(agent_id="vanish", max_restarts=1))
    await manager.start_container(cid)
    engine.containers.get((await manager.get_container_info(cid)).handle).remove(force=True)

    async def errored() -> bool:
        await manager.check_health()
        return await manager.get_container_status(cid) is S.ERROR

    await wait_for(errored)
    assert "restart failed" in ((await manager.get_container_info(cid)).error or "")


async def test_health_pass_removes_orphans_of_its_namespace(
    manager: ContainerManager, engine: Any, namespace: str
) -> None:
    runtime = manager.ctx.runtimes.get("docker")
    spec = RuntimeSpec(container_id="orphan-1", agent_id="x", agent_type="y", image=TEST_IMAGE)
    handle = await asyncio.to_thread(runtime.create, spec)  # no record: as after a failed remove
    kept = await manager.create_container(ContainerConfig(agent_id="kept"))
    report = await manager.check_health()
    assert report.orphans_removed == ["orphan-1"]
    with pytest.raises(docker.errors.NotFound):
        engine.containers.get(handle)
    assert await manager.get_container_status(kept) is S.CREATED


def test_gpu_request_is_built() -> None:
    spec = RuntimeSpec(
        container_id="g", agent_id="a", agent_type="t", image=TEST_IMAGE, resources={"gpu": 1500}
    )
    args = create_args(spec, "ns")
    (request,) = args["device_requests"]
    assert request["Count"] == 2 and request["Capabilities"] == [["gpu"]]
    assert "device_requests" not in create_args(
        RuntimeSpec(container_id="g", agent_id="a", agent_type="t", image=TEST_IMAGE), "ns"
    )


def test_cpu_percent_from_two_samples() -> None:
    stats = {
        "cpu_stats": {
            "cpu_usage": {"total_usage": 300},
            "system_cpu_usage": 2000,
            "online_cpus": 2,
        },
        "precpu_stats": {"cpu_usage": {"total_usage": 100}, "system_cpu_usage": 1000},
    }
    assert cpu_percent(stats) == pytest.approx(40.0)
    assert cpu_percent({"cpu_stats": {}, "precpu_stats": {}}) == 0.0


def test_unreachable_engine_is_translated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    assert docker_available(timeout=1) is False
    assert RuntimeSet("auto").default_name == "process"  # auto falls back to processes
    with pytest.raises(ContainerRuntimeError, match="Docker engine unreachable"):
        DockerRuntime().ping()
