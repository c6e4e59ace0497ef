from __future__ import annotations

from pathlib import Path

import pytest

from coordination.config import Settings, masked_dump, value_sources
from coordination.enums import SchedulingStrategy
from coordination.errors import ConfigurationError


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("COORD_"):
            monkeypatch.delenv(name)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "coord.yaml"
    path.write_text(text)
    return path


def test_defaults_match_the_seed() -> None:
    s = Settings.load()
    assert s.container.max_containers == 100
    assert s.container.resource_limits == {"cpu": "4", "memory": "8Gi", "gpu": "1"}
    assert s.registry.heartbeat_timeout == 90
    assert s.registry.max_services == 1000
    assert s.scheduler.default_strategy is SchedulingStrategy.FIFO
    assert s.scheduler.max_retries == 3


def test_precedence_kwargs_over_env_over_yaml_over_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(
        tmp_path,
        "scheduler:\n  max_retries: 1\n  max_concurrent_tasks: 7\n  default_strategy: priority\n",
    )
    monkeypatch.setenv("COORD_CONFIG", str(path))
    monkeypatch.setenv("COORD_SCHEDULER__MAX_RETRIES", "5")
    monkeypatch.setenv("COORD_SCHEDULER__MAX_CONCURRENT_TASKS", "9")
    s = Settings.load(scheduler={"max_retries": 8})
    assert s.scheduler.max_retries == 8  # kwargs beat env
    assert s.scheduler.max_concurrent_tasks == 9  # env beats yaml
    assert s.scheduler.default_strategy is SchedulingStrategy.PRIORITY  # yaml beats default
    assert s.scheduler.task_timeout_check_interval == 30  # default
    origins = value_sources(s, scheduler={"max_retries": 8})
    assert origins["scheduler.max_retries"] == "argument"
    assert origins["scheduler.max_concurrent_tasks"] == "env"
    assert origins["scheduler.default_strategy"].startswith("yaml")
    assert origins["scheduler.task_timeout_check_interval"] == "default"


def test_config_file_argument_beats_env_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other.yaml"
    other.write_text("registry:\n  max_services: 3\n")
    monkeypatch.setenv("COORD_CONFIG", str(write(tmp_path, "registry:\n  max_services: 4\n")))
    assert Settings.load(other).registry.max_services == 3


@pytest.mark.parametrize(
    ("yaml_text", "key"),
    [
        ("registry:\n  cleanup_interval: -1\n", "registry.cleanup_interval"),
        ("scheduler:\n  default_strategy: fastest\n", "scheduler.default_strategy"),
        ("redis:\n  url: http://localhost:6379\n", "redis.url"),
        ("redis:\n  url: redis://host:notaport/0\n", "redis.url"),
        ("scheduler:\n  bogus: 1\n", "scheduler.bogus"),
        ("nonsense:\n  a: 1\n", "nonsense"),
        ("redis:\n  key_prefix: 'a{b}'\n", "redis.key_prefix"),
        ("celery:\n  flower_port: 70000\n", "celery.flower_port"),
    ],
)
def test_invalid_values_name_the_key(tmp_path: Path, yaml_text: str, key: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        Settings.load(write(tmp_path, yaml_text))
    assert key in str(info.value)


def test_invalid_env_value_names_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COORD_REGISTRY__HEARTBEAT_TIMEOUT", "-3")
    with pytest.raises(ConfigurationError, match=r"registry\.heartbeat_timeout"):
        Settings.load()


def test_empty_url_means_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COORD_REDIS__URL", "")
    assert Settings.load().redis.url is None


def test_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        Settings.load(tmp_path / "nope.yaml")


def test_secrets_are_masked() -> None:
    s = Settings.load(redis={"url": "redis://user:hunter2@example:6379/0", "password": "pw"})
    dumped = str(masked_dump(s))
    assert "hunter2" not in dumped
    assert "'pw'" not in dumped
    assert "redis://user:***@example:6379/0" in dumped


def test_example_config_documents_every_key() -> None:
    import yaml

    path = Path(__file__).parent.parent / "compose" / "config.example.yaml"
    data = yaml.safe_load(path.read_text())
    loaded = Settings.load(path)  # it must also be valid
    defaults = Settings.load().model_dump()
    for section, values in defaults.items():
        assert section in data, section
        for key in values:
            assert key in data[section], f"{section}.{key} missing from config.example.yaml"
    assert loaded.scheduler.max_retries == data["scheduler"]["max_retries"]
