from __future__ import annotations

from pathlib import Path

import psutil
import pytest
import redis

from coordination.config import Settings
from coordination.embedded import EmbeddedRedis, find_server_binary, resolve_redis_url
from coordination.errors import RedisUnavailableError
from tests.redis_server import RedisServer


def test_server_binary_is_available() -> None:
    assert Path(find_server_binary()).is_file()


def test_bundled_binary_is_the_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    binary = find_server_binary()
    assert binary.endswith("valkey-server")
    assert Path(binary).is_file()


def test_embedded_server_binds_loopback_only_and_keeps_data(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path / "data")
    url = server.start()
    pid = server.process.pid if server.process else -1
    client = redis.Redis.from_url(url, decode_responses=True)
    assert client.ping()
    assert client.config_get("bind")["bind"] == "127.0.0.1"
    assert client.config_get("appendonly")["appendonly"] == "yes"
    client.set("kept", "yes")
    client.close()
    server.stop()
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    again = EmbeddedRedis(tmp_path / "data", port=server.port)
    again.start()
    client = redis.Redis.from_url(again.url, decode_responses=True)
    assert client.get("kept") == "yes"  # survived the restart through the AOF
    client.close()
    again.stop()
    assert not (tmp_path / "data" / "server.json").exists()


def test_bundled_valkey_also_serves(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with EmbeddedRedis(tmp_path / "v") as server:
        info = redis.Redis.from_url(server.url).info("server")
        assert "valkey_version" in info or "redis_version" in info


def test_configured_url_that_is_down_is_an_error_not_a_fallback(
    private_redis: RedisServer,
) -> None:
    url = private_redis.url
    private_redis.stop()
    settings = Settings.load(redis={"url": url})
    with pytest.raises(RedisUnavailableError, match=str(private_redis.port)):
        resolve_redis_url(settings)


def test_configured_url_never_starts_an_embedded_server(redis_server: RedisServer) -> None:
    settings = Settings.load(redis={"url": redis_server.url})
    url, started = resolve_redis_url(settings)
    assert url == redis_server.url
    assert started is None
