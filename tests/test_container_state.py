"""Models, the state machine table, and the Redis store's compare-and-set scripts."""

from __future__ import annotations

import asyncio

import pytest

from coordination.container import ContainerConfig, ResourceLimits, RestartPolicy
from coordination.container.state import ALLOWED_FROM, ContainerStore, can_transition
from coordination.enums import ContainerStatus as S
from coordination.errors import (
    CapacityError,
    InvalidInputError,
    InvalidTransitionError,
    NotFoundError,
)
from coordination.keys import Keys
from coordination.redis_client import AsyncCoordRedis, CoordRedis


def test_config_validation_names_the_field() -> None:
    cases = [
        ({"agent_id": "bad id"}, "config.agent_id"),
        ({"agent_id": "a", "resources": {"cpu": "lots"}}, "config.resources"),
        ({"agent_id": "a", "command": []}, "config.command"),
        ({"agent_id": "a", "restart_policy": "sometimes"}, "config.restart_policy"),
        ({"agent_id": "a", "environment": {"A=B": "x"}}, "config.environment"),
        ({"agent_id": "a", "surprise": 1}, "config.surprise"),
    ]
    for data, field in cases:
        with pytest.raises(InvalidInputError) as err:
            ContainerConfig.parse(data)
        assert err.value.field == field, data
    with pytest.raises(InvalidInputError) as err:
        ResourceLimits(cpu_limit=-1)
    assert err.value.field == "limits.cpu_limit"


def test_config_accepts_limits_and_shell_command() -> None:
    config = ContainerConfig(
        agent_id="a",
        command="python -m agent --name 'x y'",
        resources=ResourceLimits(cpu_limit=2.0, memory_limit=4 * 1024**3, gpu_limit=1),
    )
    assert config.command == ["python", "-m", "agent", "--name", "x y"]
    assert config.normalized_resources() == {"cpu": 2000, "memory": 4 * 1024**3, "gpu": 1000}
    assert config.restart_policy is RestartPolicy.ON_FAILURE
    limits = ResourceLimits.from_normalized({"cpu": 500, "memory": 1024, "disk": 2048})
    assert limits.cpu_limit == 0.5 and limits.custom == {"disk": "2Ki"}


def test_machine_table() -> None:
    assert can_transition(S.CREATED, S.STARTING) and can_transition(S.STOPPED, S.STARTING)
    assert not can_transition(S.RUNNING, S.STARTING)
    assert not can_transition(S.RUNNING, S.DESTROYED)
    assert all(can_transition(s, S.ERROR) for s in S if s is not S.DESTROYED)
    assert not any(S.DESTROYED in sources for sources in ALLOWED_FROM.values())


async def _store(aredis: AsyncCoordRedis, keys: Keys, cid: str) -> ContainerStore:
    store = ContainerStore(aredis, keys)
    fields = {
        "agent_id": "a",
        "agent_type": "t",
        "runtime": "process",
        "node": "host:x",
        "config": ContainerConfig(agent_id="a").model_dump_json(),
    }
    await store.create(cid, fields, max_containers=10)
    return store


async def test_cas_lets_exactly_one_racer_win(
    aredis: AsyncCoordRedis, keys: Keys, redis_client: CoordRedis
) -> None:
    store = await _store(aredis, keys, "c1")
    results = await asyncio.gather(
        *[store.transition("c1", S.STARTING) for _ in range(20)], return_exceptions=True
    )
    wins = [r for r in results if not isinstance(r, BaseException)]
    assert len(wins) == 1
    assert all(isinstance(r, InvalidTransitionError) for r in results if r not in wins)
    assert (await store.get("c1")).status is S.STARTING


async def test_invalid_transition_changes_nothing(
    aredis: AsyncCoordRedis, keys: Keys, redis_client: CoordRedis
) -> None:
    store = await _store(aredis, keys, "c2")
    before = redis_client.hgetall(keys.containers.container("c2"))
    with pytest.raises(InvalidTransitionError, match="cannot go from created to running"):
        await store.transition("c2", S.RUNNING, set_={"handle": "x"})
    assert redis_client.hgetall(keys.containers.container("c2")) == before
    with pytest.raises(NotFoundError):
        await store.transition("nope", S.STARTING)


async def test_epoch_fences_stale_observers(
    aredis: AsyncCoordRedis, keys: Keys, redis_client: CoordRedis
) -> None:
    store = await _store(aredis, keys, "c3")
    await store.transition("c3", S.STARTING)
    await store.transition("c3", S.RUNNING, set_={"started_at": "$now"}, bump_epoch=True)
    decision = await store.exited(
        "c3",
        expected=S.RUNNING,
        epoch=0,
        exit_code=1,
        policy="always",
        max_restarts=3,
        backoff_ms=(100, 1000),
        reset_after_ms=60_000,
        reason="boom",
    )
    assert decision.action == "skip"  # observed the previous run: ignored
    decision = await store.exited(
        "c3",
        expected=S.RUNNING,
        epoch=1,
        exit_code=1,
        policy="always",
        max_restarts=3,
        backoff_ms=(100, 1000),
        reset_after_ms=60_000,
        reason="boom",
    )
    assert decision.action == "restart" and decision.delay_s == 0.1 and decision.attempt == 1
    with pytest.raises(InvalidTransitionError, match="not due"):
        await store.transition("c3", S.STARTING, from_=[S.STOPPED], due=True)


async def test_backoff_doubles_and_caps(
    aredis: AsyncCoordRedis, keys: Keys, redis_client: CoordRedis
) -> None:
    store = await _store(aredis, keys, "c4")
    delays = []
    for epoch in range(1, 6):
        await store.transition("c4", S.STARTING, from_=[S.CREATED, S.STOPPED])
        await store.transition("c4", S.RUNNING, set_={"started_at": "$now"}, bump_epoch=True)
        decision = await store.exited(
            "c4",
            expected=S.RUNNING,
            epoch=epoch,
            exit_code=None,
            policy="on-failure",
            max_restarts=4,
            backoff_ms=(100, 500),
            reset_after_ms=60_000,
            reason="died",
        )
        delays.append(decision.delay_s if decision.action == "restart" else decision.action)
    assert delays == [0.1, 0.2, 0.4, 0.5, "error"]
    info = await store.get("c4")
    assert info.status is S.ERROR and "gave up after 4" in (info.error or "")


async def test_max_containers_and_duplicate_ids(
    aredis: AsyncCoordRedis, keys: Keys, redis_client: CoordRedis
) -> None:
    store = await _store(aredis, keys, "d1")
    with pytest.raises(InvalidInputError, match="already exists"):
        await store.create("d1", {"agent_id": "a"}, max_containers=10)
    with pytest.raises(CapacityError, match="max_containers"):
        await store.create("d2", {"agent_id": "a"}, max_containers=1)


async def test_sweep_drops_dangling_index_entries(
    aredis: AsyncCoordRedis, keys: Keys, redis_client: CoordRedis
) -> None:
    store = await _store(aredis, keys, "e1")
    await _store(aredis, keys, "e2")
    redis_client.delete(keys.containers.container("e1"))
    assert await store.sweep() == ["e1"]
    assert await store.live_ids() == ["e2"]
