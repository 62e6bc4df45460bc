"""The quick cluster check (`streams/reach.py`) against listeners that behave like each thing
an operator's address can point at: nothing, a silent port, HTTP, TLS, Kafka."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from streams.reach import Unreachable, connect_timeout, require_cluster

Reply = Callable[[socket.socket], None]


@contextmanager
def listener(reply: Reply) -> Iterator[str]:
    """A local TCP server that answers each connection with `reply`; yields host:port."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                reply(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        server.close()


def silent(conn: socket.socket) -> None:
    conn.recv(64)
    conn.settimeout(2)
    with contextlib.suppress(OSError):
        conn.recv(64)  # says nothing until the client gives up


def http(conn: socket.socket) -> None:
    conn.recv(64)
    conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")


def tls_alert(conn: socket.socket) -> None:
    conn.recv(64)
    conn.sendall(bytes([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46]))


def kafka(conn: socket.socket) -> None:
    """The start of an ApiVersions response: size, then the request's correlation id."""
    request = conn.recv(64)
    correlation = request[8:12]  # size(4) key(2) version(2) correlation(4)
    conn.sendall(struct.pack(">i", 6) + correlation + b"\x00\x00")


def free_closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


@pytest.mark.parametrize("reply", [kafka, tls_alert], ids=["kafka", "tls"])
def test_a_kafka_or_tls_listener_passes(reply: Reply) -> None:
    with listener(reply) as address:
        require_cluster(address, timeout_s=5)


@pytest.mark.parametrize(
    ("reply", "says"),
    [(silent, "no answer within 0.5 s"), (http, "answered in HTTP, not as a Kafka broker")],
    ids=["silent", "http"],
)
def test_a_port_that_is_not_kafka_fails_in_one_line(reply: Reply, says: str) -> None:
    with listener(reply) as address, pytest.raises(Unreachable) as err:
        require_cluster(address, timeout_s=0.5)
    assert f"{address}: {says}" in str(err.value) and "\n" not in str(err.value)


def test_every_address_is_named_with_its_reason() -> None:
    closed = free_closed_port()
    with pytest.raises(Unreachable) as err:
        require_cluster(f"{closed},nosuchhost.invalid:9092", timeout_s=2)
    text = str(err.value)
    assert f"{closed}: connection refused" in text
    assert "nosuchhost.invalid:9092: unknown host" in text
    assert "--bootstrap" in text and "GUARDLINE_BOOTSTRAP_SERVERS" in text


def test_one_answering_server_is_enough() -> None:
    with listener(kafka) as address:
        require_cluster(f"{free_closed_port()},{address}", timeout_s=5)


@pytest.mark.broker
def test_the_embedded_broker_passes(bootstrap: str) -> None:
    require_cluster(bootstrap, timeout_s=5)


def test_the_timeout_comes_from_the_flag_then_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GUARDLINE_CONNECT_TIMEOUT", raising=False)
    assert connect_timeout(None) == 5.0
    monkeypatch.setenv("GUARDLINE_CONNECT_TIMEOUT", "1.5")
    assert connect_timeout(None) == 1.5 and connect_timeout(7.0) == 7.0
    monkeypatch.setenv("GUARDLINE_CONNECT_TIMEOUT", "soon")
    with pytest.raises(Unreachable, match="GUARDLINE_CONNECT_TIMEOUT"):
        connect_timeout(None)


def test_a_malformed_address_is_named() -> None:
    with pytest.raises(Unreachable, match="'host:abc' is not a list of HOST:PORT"):
        require_cluster("host:abc", timeout_s=1)
