from __future__ import annotations

import pytest

from coordination.config import Settings
from coordination.errors import RedisUnavailableError
from coordination.redis_client import async_client, sync_client
from coordination.scripts import LUA_DIR, Scripts, all_script_names, script_source
from tests.redis_server import RedisServer


def test_every_script_documents_keys_and_argv() -> None:
    names = all_script_names()
    assert names, f"no scripts in {LUA_DIR}"
    for name in names:
        script_source(name)  # raises ScriptError when the header lacks KEYS/ARGV


def test_script_recovers_after_script_flush(redis_client) -> None:  # type: ignore[no-untyped-def]
    scripts = Scripts(redis_client)
    first = scripts.call("server_time_ms", [], [])
    redis_client.script_flush()
    second = scripts.call("server_time_ms", [], [])
    assert second >= first > 1_600_000_000_000


def test_script_recovers_inside_a_pipeline_after_flush(redis_client) -> None:  # type: ignore[no-untyped-def]
    scripts = Scripts(redis_client)
    scripts.call("server_time_ms", [], [])
    redis_client.script_flush()
    pipe = redis_client.pipeline()
    scripts.call("server_time_ms", [], [], client=pipe)
    scripts.call("server_time_ms", [], [], client=pipe)
    a, b = pipe.execute()
    assert b >= a > 0


def test_script_recovers_after_server_restart(private_redis: RedisServer) -> None:
    settings = Settings.load(redis={"url": private_redis.url})
    client = sync_client(settings)
    scripts = Scripts(client)
    assert scripts.call("server_time_ms", [], []) > 0
    private_redis.restart()  # scripts are gone, connections are stale
    assert scripts.call("server_time_ms", [], []) > 0
    client.close()


async def test_async_script_recovers_after_flush(aredis) -> None:  # type: ignore[no-untyped-def]
    scripts = Scripts(aredis)
    assert await scripts.acall("server_time_ms", [], []) > 0
    await aredis.script_flush()
    assert await scripts.acall("server_time_ms", [], []) > 0


def _down_settings(private_redis: RedisServer) -> Settings:
    url = f"redis://:s3cret@127.0.0.1:{private_redis.port}/0"
    private_redis.stop()
    return Settings.load(redis={"url": url, "socket_connect_timeout": 0.5})


def test_down_redis_gives_translated_error_with_masked_url(private_redis: RedisServer) -> None:
    settings = _down_settings(private_redis)
    client = sync_client(settings)
    with pytest.raises(RedisUnavailableError) as info:
        client.ping()
    assert f"127.0.0.1:{private_redis.port}" in str(info.value)
    assert "s3cret" not in str(info.value)
    assert "***" in info.value.url
    with pytest.raises(RedisUnavailableError):
        client.pipeline().set("a", 1).get("a").execute()
    with pytest.raises(RedisUnavailableError):
        Scripts(client).call("server_time_ms", [], [])


async def test_down_redis_async_gives_translated_error(private_redis: RedisServer) -> None:
    settings = _down_settings(private_redis)
    client = async_client(settings)
    with pytest.raises(RedisUnavailableError, match=r"\*\*\*"):
        await client.ping()
    with pytest.raises(RedisUnavailableError):
        await client.pipeline().set("a", 1).execute()
    await client.aclose()
