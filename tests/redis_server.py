"""A real redis-server for tests, on a free port, that a test can stop, kill and restart."""

from __future__ import annotations

import signal
from pathlib import Path

from coordination.embedded import EmbeddedRedis


class RedisServer(EmbeddedRedis):
    """EmbeddedRedis (redis-server from PATH, 127.0.0.1, AOF on) plus fault helpers."""

    def __init__(self, data_dir: Path, port: int | None = None):
        super().__init__(data_dir=data_dir, port=port)

    def kill(self) -> None:
        """SIGKILL: the server dies without flushing (a crash)."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
            self.process = None

    def restart(self) -> None:
        """Stop gracefully and start again on the same port and data dir."""
        self.stop()
        self.start()
