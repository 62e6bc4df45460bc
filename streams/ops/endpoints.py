"""The worker's own small HTTP server: /metrics, /healthz and /readyz, nothing else.

Faust's web server stays off (it serves table contents); this one answers three fixed paths
from a daemon thread and 404s everything else, so no state, event or id can leak through it.
It binds to 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from streams.reach import parse_bootstrap

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9310
HOST_ENV = "GUARDLINE_METRICS_HOST"
PORT_ENV = "GUARDLINE_METRICS_PORT"
# The classic text format `generate_latest` writes, which every Prometheus 2.x parses.
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# (ready?, one line saying why) - called on every /readyz request.
Readiness = Callable[[], tuple[bool, str]]


def default_host() -> str:
    return os.environ.get(HOST_ENV) or DEFAULT_HOST


def default_port() -> int:
    raw = os.environ.get(PORT_ENV)
    if not raw:
        return DEFAULT_PORT
    try:
        port = int(raw)
    except ValueError:
        raise SystemExit(f"error: {PORT_ENV}={raw!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise SystemExit(f"error: {PORT_ENV}={port} is outside 0..65535")
    return port


class Endpoints:
    """Serves `metrics()` bytes, liveness and `readiness()` on host:port (0 = any free port)."""

    def __init__(
        self, host: str, port: int, metrics: Callable[[], bytes], readiness: Readiness
    ) -> None:
        routes: dict[str, Callable[[], tuple[int, str, bytes]]] = {
            "/metrics": lambda: (200, METRICS_CONTENT_TYPE, metrics()),
            "/healthz": lambda: (200, "text/plain; charset=utf-8", b"ok\n"),
            "/readyz": lambda: _ready_response(readiness),
        }

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                route = routes.get(self.path.split("?", 1)[0])
                status, ctype, body = route() if route else (404, "text/plain", b"not found\n")
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return  # one line per scrape would drown the worker's log

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="guardline-endpoints", daemon=True
        )

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://{host}:{port}"

    def start(self) -> Endpoints:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _ready_response(readiness: Readiness) -> tuple[int, str, bytes]:
    ok, why = readiness()
    return (200 if ok else 503), "text/plain; charset=utf-8", f"{why}\n".encode()


class BrokerProbe:
    """Is any bootstrap server accepting TCP connections? Cached briefly: probes are cheap
    but /readyz may be polled often."""

    def __init__(self, bootstrap: str, timeout_s: float = 1.0, cache_s: float = 2.0) -> None:
        self.servers = parse_bootstrap(bootstrap)
        self.timeout_s = timeout_s
        self.cache_s = cache_s
        self._checked_at = -1e9
        self._last = False
        self._lock = threading.Lock()

    def __call__(self) -> bool:
        with self._lock:
            now = time.monotonic()
            if now - self._checked_at >= self.cache_s:
                self._last = any(self._connects(h, p) for h, p in self.servers)
                self._checked_at = now
            return self._last

    def _connects(self, host: str, port: int) -> bool:
        try:
            with socket.create_connection((host, port), timeout=self.timeout_s):
                return True
        except OSError:
            return False


def serve(host: str, port: int, metrics: Callable[[], bytes], ready: Readiness) -> Endpoints:
    """Start the endpoints; an address that cannot be served is one line, not a traceback."""
    try:
        return Endpoints(host, port, metrics, ready).start()
    except OSError as err:
        raise SystemExit(
            f"error: cannot serve metrics on {host}:{port} ({err.strerror}); choose another "
            "address with --metrics-host/--metrics-port (0 = any free port)"
        ) from err


def readiness(
    owned: Callable[[], Sequence[int]],
    broker_up: Callable[[], bool],
    detail: Callable[[], str] = str,
) -> Readiness:
    """Ready = at least one input partition assigned AND the broker reachable; `detail()`
    (e.g. input partitions not being fetched) is appended to a ready answer when not empty."""

    def check() -> tuple[bool, str]:
        partitions = list(owned())
        up = broker_up()
        if not partitions:
            return False, "not ready: no input partition assigned yet"
        if not up:
            return False, "not ready: broker unreachable"
        more = detail()
        listed = ",".join(map(str, sorted(partitions)))
        return True, f"ready: input partitions {listed}" + (f"; {more}" if more else "")

    return check
