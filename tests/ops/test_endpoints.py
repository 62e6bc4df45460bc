"""The worker's HTTP endpoints, readiness and broker probe, without a worker."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from streams.cli import build_parser
from streams.ops.endpoints import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    BrokerProbe,
    Endpoints,
    readiness,
)
from streams.reach import parse_bootstrap


@contextmanager
def serving(ready: tuple[bool, str] = (True, "ready: input partitions 0")) -> Iterator[str]:
    endpoints = Endpoints("127.0.0.1", 0, lambda: b"guardline_up 1\n", lambda: ready).start()
    try:
        yield endpoints.url
    finally:
        endpoints.stop()


def get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.headers["Content-Type"], resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.headers["Content-Type"], err.read().decode()


def test_metrics_health_and_ready() -> None:
    with serving() as url:
        status, ctype, body = get(f"{url}/metrics")
        assert (status, body) == (200, "guardline_up 1\n")
        assert ctype.startswith("text/plain; version=0.0.4")
        assert get(f"{url}/healthz")[::2] == (200, "ok\n")
        assert get(f"{url}/readyz")[::2] == (200, "ready: input partitions 0\n")


def test_not_ready_is_503_with_the_reason() -> None:
    with serving((False, "not ready: broker unreachable")) as url:
        assert get(f"{url}/readyz")[::2] == (503, "not ready: broker unreachable\n")
        assert get(f"{url}/healthz")[0] == 200  # alive all the same


@pytest.mark.parametrize("path", ["/", "/table/guardline-state", "/router/", "/metrics/x", "/x"])
def test_every_other_path_is_404(path: str) -> None:
    with serving() as url:
        assert get(url + path)[0] == 404


def test_binds_to_loopback_by_default() -> None:
    args = build_parser().parse_args(["worker"])
    assert (args.metrics_host, args.metrics_port) == (DEFAULT_HOST, DEFAULT_PORT) == (
        "127.0.0.1", 9310,
    )  # fmt: skip


def test_address_comes_from_flags_or_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    args = build_parser().parse_args(["worker", "--metrics-host", "0.0.0.0", "--metrics-port", "0"])
    assert (args.metrics_host, args.metrics_port) == ("0.0.0.0", 0)
    monkeypatch.setenv("GUARDLINE_METRICS_HOST", "10.0.0.5")
    monkeypatch.setenv("GUARDLINE_METRICS_PORT", "9999")
    args = build_parser().parse_args(["worker"])
    assert (args.metrics_host, args.metrics_port) == ("10.0.0.5", 9999)
    monkeypatch.setenv("GUARDLINE_METRICS_PORT", "nine")
    with pytest.raises(SystemExit, match="GUARDLINE_METRICS_PORT='nine'"):
        build_parser()


@pytest.mark.parametrize(
    ("owned", "up", "expected"),
    [
        ([], True, (False, "not ready: no input partition assigned yet")),
        ([1, 0], False, (False, "not ready: broker unreachable")),
        ([2, 0], True, (True, "ready: input partitions 0,2")),
    ],
)
def test_readiness_needs_partitions_and_the_broker(
    owned: list[int], up: bool, expected: tuple[bool, str]
) -> None:
    assert readiness(lambda: owned, lambda: up)() == expected


def test_readiness_appends_the_input_partitions_not_fetched() -> None:
    check = readiness(lambda: [0, 1], lambda: True, lambda: "held 1; stalled 0")
    assert check() == (True, "ready: input partitions 0,1; held 1; stalled 0")
    assert readiness(lambda: [0], lambda: False, lambda: "held 0")()[0] is False


def test_broker_probe_sees_a_listening_port_and_a_closed_one() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert BrokerProbe(f"127.0.0.1:{port}")()
        # A second server in the list may be down: any reachable one is enough.
        assert BrokerProbe(f"127.0.0.1:1,127.0.0.1:{port}")()
    assert not BrokerProbe(f"127.0.0.1:{port}", cache_s=0)()


def test_bootstrap_parsing() -> None:
    assert parse_bootstrap("kafka://a:1, b:2,c,[::1]:3") == [
        ("a", 1), ("b", 2), ("c", 9092), ("::1", 3),
    ]  # fmt: skip
