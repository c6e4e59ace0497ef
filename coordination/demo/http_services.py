"""Tiny local HTTP services for the demo's health checks: one healthy, one answering 500."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def _handler(status: int) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"ok\n" if status < 400 else b"failing\n"
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return  # keep the demo's terminal clean

    return Handler


@dataclass
class HttpService:
    """An HTTP server on 127.0.0.1 (a free port) in a daemon thread; GET /health -> status."""

    name: str
    status: int
    server: ThreadingHTTPServer | None = field(default=None, init=False)

    @property
    def port(self) -> int:
        assert self.server is not None, "not started"
        return int(self.server.server_address[1])

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/health"

    def start(self) -> HttpService:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.status))
        self.server.daemon_threads = True
        threading.Thread(
            target=self.server.serve_forever, name=f"http-{self.name}", daemon=True
        ).start()
        return self

    def stop(self) -> None:
        server, self.server = self.server, None
        if server is not None:
            server.shutdown()
            server.server_close()
