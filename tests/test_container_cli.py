"""``coord containers``: the sub-app in this process, and a second process seeing the same records."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from coordination.cli_containers import containers_app
from coordination.redis_client import CoordRedis
from tests.docker_support import IDLE_SCRIPT
from tests.redis_server import RedisServer

runner = CliRunner()


@pytest.fixture
def env(
    monkeypatch: pytest.MonkeyPatch,
    redis_server: RedisServer,
    namespace: str,
    tmp_path: Path,
    redis_client: CoordRedis,
) -> Iterator[dict[str, str]]:
    values = {
        "COORD_REDIS__URL": redis_server.url,
        "COORD_REDIS__KEY_PREFIX": namespace,
        "COORD_CONTAINER__RUNTIME": "process",
        "COORD_CONTAINER__LOG_DIR": str(tmp_path),
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    yield values


def coord(*args: str) -> str:
    result = runner.invoke(containers_app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def in_another_process(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    code = "import sys; from coordination.cli_containers import containers_app; containers_app(sys.argv[1:])"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_create_start_logs_stop_destroy(env: dict[str, str]) -> None:
    script = f"echo cli-agent-up; {IDLE_SCRIPT}"
    cid = coord(
        "create", "cli-agent", "--command", f'sh -c "{script}"', "--memory", "256Mi", "--env", "A=1"
    ).strip()
    assert cid.startswith("ctr-")
    coord("start", cid)
    listed = json.loads(coord("list", "--json"))
    assert [(c["container_id"], c["status"]) for c in listed] == [(cid, "running")]

    other = in_another_process(env, "list", "--json")  # records live in Redis, not in us
    assert other.returncode == 0, other.stderr
    assert [c["container_id"] for c in json.loads(other.stdout)] == [cid]

    logs = in_another_process(env, "logs", cid, "--lines", "5")
    assert "cli-agent-up" in logs.stdout
    stopped = in_another_process(env, "stop", cid, "--timeout", "5")
    assert stopped.returncode == 0, stopped.stderr
    assert json.loads(coord("list", "--json"))[0]["status"] == "stopped"
    stats = json.loads(coord("stats"))
    assert stats["stopped"] == 1 and stats["resources"]["allocated"]["memory"] == 256 * 1024**2
    coord("destroy", cid)
    assert json.loads(coord("list", "--json")) == []
    assert "containers (0)" in coord("list")


def test_bad_input_is_reported(env: dict[str, str]) -> None:
    result = runner.invoke(containers_app, ["create", "x", "--cpu", "lots", "--command", "true"])
    assert result.exit_code != 0
    assert "config.resources" in str(result.exception)
    result = runner.invoke(containers_app, ["create", "x", "--env", "novalue", "--command", "true"])
    assert "NAME=VALUE" in str(result.exception)
    result = in_another_process(env, "start", "ctr-missing")
    assert result.returncode != 0 and "ctr-missing" in result.stderr
