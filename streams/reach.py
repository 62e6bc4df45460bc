"""Is the Kafka cluster there? One quick check before a command waits on a client.

kafka-python and Faust wait ~30 s for an unreachable cluster and then print a traceback; an
operator with a typo in the address deserves one line within seconds instead. The check opens
a TCP connection to each bootstrap server and sends Kafka's ApiVersions request, the one every
broker answers before any authentication: a Kafka answer passes, and so does a TLS listener's
alert or a closed connection (a secured listener; the client, with its TLS settings, judges
it). Silence, or an answer in another protocol (an HTTP proxy, say), fails with one line.
"""

from __future__ import annotations

import os
import socket
import struct
import time
from collections.abc import Sequence

CONNECT_TIMEOUT_ENV = "GUARDLINE_CONNECT_TIMEOUT"
DEFAULT_CONNECT_TIMEOUT_S = 5.0


class Unreachable(ConnectionError):
    """No bootstrap server accepted a connection; the message is the one line to print."""


def parse_bootstrap(bootstrap: str) -> Sequence[tuple[str, int]]:
    """`host:port[,host:port...]` (Kafka's form; `kafka://` and `[::1]` accepted) as pairs."""
    servers = []
    for item in bootstrap.split(","):
        item = item.strip().removeprefix("kafka://")
        host, sep, port = item.rpartition(":")
        if not sep:
            host, port = item, "9092"
        servers.append((host.strip("[]") or "localhost", int(port)))
    return servers


def connect_timeout(cli_value: float | None) -> float:
    """The flag's value, else $GUARDLINE_CONNECT_TIMEOUT, else the default (seconds)."""
    if cli_value is not None:
        return cli_value
    text = os.environ.get(CONNECT_TIMEOUT_ENV, "").strip()
    try:
        value = float(text) if text else DEFAULT_CONNECT_TIMEOUT_S
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        raise Unreachable(f"${CONNECT_TIMEOUT_ENV}={text!r} is not a positive number of seconds")
    return value


def require_cluster(bootstrap: str, timeout_s: float) -> None:
    """Return once a bootstrap server accepts a TCP connection; raise `Unreachable` naming
    every address and why, after at most `timeout_s` in all."""
    try:
        servers = parse_bootstrap(bootstrap)
    except ValueError:
        raise Unreachable(
            f"{bootstrap!r} is not a list of HOST:PORT bootstrap servers "
            "(check --bootstrap or $GUARDLINE_BOOTSTRAP_SERVERS)"
        ) from None
    deadline = time.monotonic() + timeout_s
    why: list[str] = []
    for host, port in servers:
        try:
            problem = _kafka_answers(host, port, deadline)
        except socket.gaierror:
            problem = "unknown host"
        except TimeoutError:
            problem = f"no answer within {timeout_s:g} s"
        except OSError as err:
            problem = (err.strerror or str(err)).lower()
        if problem is None:
            return
        why.append(f"{host}:{port}: {problem}")
    raise Unreachable(
        f"cannot reach the Kafka cluster at {bootstrap} ({'; '.join(why)}): is the broker "
        "running and the address right? Check --bootstrap or $GUARDLINE_BOOTSTRAP_SERVERS "
        "(`guardline broker` runs a local one)"
    )


_CORRELATION_ID = 0x6C696E65
# ApiVersions (key 18) v0, client id "guardline": what every broker answers unauthenticated.
_API_VERSIONS = struct.pack(">hhih", 18, 0, _CORRELATION_ID, 9) + b"guardline"
_TLS_RECORDS = (0x15, 0x16)  # alert, handshake: a TLS listener answering plaintext


def _kafka_answers(host: str, port: int, deadline: float) -> str | None:
    """None if `host:port` answers like a Kafka (or TLS) listener, else what it did instead."""
    with socket.create_connection((host, port), timeout=max(0.1, deadline - time.monotonic())) as s:
        s.settimeout(max(0.1, deadline - time.monotonic()))
        s.sendall(struct.pack(">i", len(_API_VERSIONS)) + _API_VERSIONS)
        head = b""
        while len(head) < 8:
            chunk = s.recv(8 - len(head))
            if not chunk:
                break
            head += chunk
    if not head or head[0] in _TLS_RECORDS:
        return None  # closed, or TLS: a secured listener, for the client to judge
    if len(head) == 8 and struct.unpack(">i", head[4:])[0] == _CORRELATION_ID:
        return None
    kind = "HTTP" if head.startswith(b"HTTP") else "another protocol"
    return f"answered in {kind}, not as a Kafka broker"
