"""Issue 7: the compose deployment (services, healthchecks, one beat, a scalable worker).

With ``docker compose`` (v2) or ``docker-compose`` (v1) installed, the file is also rendered by
Compose itself (``config``: interpolation, merge keys, schema); otherwise it is parsed as YAML.
The worker and beat healthcheck commands are run for real against the test Redis.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from coordination.config import Settings
from coordination.keys import Keys
from coordination.redis_client import CoordRedis
from coordination.scheduler import SyncTaskScheduler

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "compose" / "docker-compose.yml"
ENV_EXAMPLE = ROOT / "compose" / ".env.example"
DOCKERFILE = ROOT / "compose" / "Dockerfile"
VARIABLE = re.compile(r"(?<!\$)\$\{(\w+)(?:(:?[-?])[^}]*)?\}")


def _compose_command() -> list[str] | None:
    candidates = [["docker", "compose"], ["docker-compose"]]
    for command in candidates:
        if shutil.which(command[0]) is None:
            continue
        probe = subprocess.run([*command, "version"], capture_output=True, timeout=30)
        if probe.returncode == 0:
            return command
    return None


def _rendered() -> dict[str, Any]:
    """The compose model: rendered by Compose where available, else the YAML as written."""
    command = _compose_command()
    if command is None:
        data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
        return data
    done = subprocess.run(
        [*command, "--env-file", str(ENV_EXAMPLE), "-f", str(COMPOSE), "config"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    rendered: dict[str, Any] = yaml.safe_load(done.stdout)
    return rendered


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return _rendered()


def _command(service: dict[str, Any]) -> str:
    command = service.get("command", [])
    return command if isinstance(command, str) else " ".join(map(str, command))


def _env_example() -> dict[str, str]:
    pairs = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            pairs[name.strip()] = value.strip()
    return pairs


def test_services_all_restart_and_have_healthchecks(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"redis", "worker", "beat", "flower"}
    for name, service in services.items():
        assert service.get("restart") == "unless-stopped", name
        test = service["healthcheck"]["test"]
        assert test and test[0] in ("CMD", "CMD-SHELL"), name


def test_redis_has_aof_a_password_and_a_ping_healthcheck(compose: dict[str, Any]) -> None:
    redis = compose["services"]["redis"]
    command = _command(redis)
    assert "--appendonly yes" in command
    assert "--requirepass" in command
    assert "ping" in " ".join(redis["healthcheck"]["test"])
    assert any("/data" in str(volume) for volume in redis["volumes"])


def test_worker_scales(compose: dict[str, Any]) -> None:
    worker = compose["services"]["worker"]
    assert "container_name" not in worker  # a fixed name would forbid --scale
    assert not worker.get("ports")  # so would a fixed host port
    command = _command(worker)
    assert "coord worker" in command and "HOSTNAME" in command  # a unique name per replica
    assert worker["image"] == "coordination-agent:latest"
    assert "SyncTaskScheduler" in " ".join(worker["healthcheck"]["test"])
    assert worker["depends_on"]["redis"]["condition"] == "service_healthy"


def test_exactly_one_beat(compose: dict[str, Any]) -> None:
    services = compose["services"]
    beats = [name for name, s in services.items() if re.search(r"\bbeat\b", _command(s))]
    assert beats == ["beat"]
    assert services["beat"].get("deploy", {}).get("replicas", 1) == 1


def test_flower_has_basic_auth(compose: dict[str, Any]) -> None:
    flower = compose["services"]["flower"]
    command = _command(flower)
    assert "flower" in command and "--basic-auth=" in command
    assert "/healthcheck" in " ".join(flower["healthcheck"]["test"])


def test_every_variable_is_in_env_example() -> None:
    documented = _env_example()
    used = {m.group(1): m.group(2) for m in VARIABLE.finditer(COMPOSE.read_text())}
    assert used, "the compose file should be configurable"
    missing = sorted(set(used) - set(documented))
    assert not missing, f"not in compose/.env.example: {missing}"
    required = [name for name, op in used.items() if op in (":?", "?")]
    assert {"REDIS_PASSWORD", "FLOWER_PASSWORD"} <= set(required)


def test_dockerfile_builds_the_project_image() -> None:
    text = DOCKERFILE.read_text()
    assert re.search(r"^FROM python:3\.11", text, re.M)
    assert "coordination-agent:latest" in text
    assert "pip install" in text and 'CMD ["coord", "worker"]' in text
    for path in ("coordination", "workers", "beat", "celeryconfig.py", "pyproject.toml"):
        assert path in text
        assert (ROOT / path).exists()


def _healthcheck_code(service: str) -> str:
    raw = yaml.safe_load(COMPOSE.read_text())["services"][service]["healthcheck"]["test"]
    assert raw[:3] == ["CMD", "python", "-c"]
    return str(raw[3])


def _run_check(code: str, settings: Settings) -> int:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COORD_")}
    env["COORD_REDIS__URL"] = settings.redis.url or ""
    env["COORD_REDIS__KEY_PREFIX"] = settings.redis.key_prefix
    return subprocess.run([sys.executable, "-c", code], env=env, timeout=60).returncode


def test_worker_healthcheck_asks_our_registry(settings: Settings, redis_client: CoordRedis) -> None:
    code = _healthcheck_code("worker")
    assert _run_check(code, settings) == 1  # nothing registered under this host's name
    scheduler = SyncTaskScheduler(settings)
    scheduler.register_worker(f"worker@{socket.gethostname()}", 2, ttl=30)
    try:
        assert _run_check(code, settings) == 0
    finally:
        scheduler.close()


def test_beat_healthcheck_looks_for_the_leader_lock(
    settings: Settings, redis_client: CoordRedis
) -> None:
    code = _healthcheck_code("beat")
    assert _run_check(code, settings) == 1
    redis_client.set(Keys(settings.redis.key_prefix).celery.beat_lock, "token", px=30_000)
    assert _run_check(code, settings) == 0


def test_compose_readme_covers_other_hosts() -> None:
    text = (ROOT / "compose" / "README.md").read_text()
    for needle in ("--scale worker=", "REDIS_HOST", "REDIS_BIND", "coord worker", "--no-deps"):
        assert needle in text, needle
