from __future__ import annotations

import json
import subprocess
import sys

from tests.redis_server import RedisServer


def coord(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    full_env = {k: v for k, v in os.environ.items() if not k.startswith("COORD_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "coordination.cli", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=60,
    )


def test_help_lists_commands() -> None:
    out = coord("--help")
    assert out.returncode == 0
    assert "config" in out.stdout and "redis" in out.stdout


def test_config_shows_sources_and_masks_secrets() -> None:
    out = coord(
        "config",
        "--json",
        env={
            "COORD_REDIS__URL": "redis://:topsecret@127.0.0.1:1/0",
            "COORD_SCHEDULER__MAX_RETRIES": "4",
        },
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert "topsecret" not in out.stdout
    assert data["settings"]["scheduler"]["max_retries"] == 4
    assert data["sources"]["scheduler.max_retries"] == "env"
    assert data["sources"]["registry.max_services"] == "default"


def test_bad_config_exits_with_the_key_named(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "c.yaml"
    path.write_text("scheduler:\n  max_retries: -1\n")
    out = coord("--config", str(path), "config")
    assert out.returncode == 2
    assert "scheduler.max_retries" in out.stderr


def test_redis_command_reports_the_server(redis_server: RedisServer) -> None:
    out = coord("redis", env={"COORD_REDIS__URL": redis_server.url})
    assert out.returncode == 0, out.stderr
    assert str(redis_server.port) in out.stdout
    assert "configured" in out.stdout


def test_redis_command_with_unreachable_url_fails_cleanly(private_redis: RedisServer) -> None:
    url = private_redis.url
    private_redis.stop()
    out = coord("redis", env={"COORD_REDIS__URL": url})
    assert out.returncode == 2
    assert "cannot reach Redis" in out.stderr
