"""A secured cluster end to end: topics, worker, produce and tail through TLS + SASL only.

The embedded broker has no TLS or SASL, so it sits behind `tests/tls_proxy.py` (mutual TLS with
a throwaway CA, the hostname checked against the certificate, SASL/PLAIN checked before any
other request). Every client is configured the way an operator would: a client properties file
for the TLS files, the environment for the SASL user and password. The alerts must equal the
backtest's, and the password must appear in no output and no log.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams import kafka_settings
from streams.backtest import run_backtest
from streams.broker import BOOTSTRAP_ENV, EmbeddedBroker, free_port
from streams.config import load_config
from streams.jsonl import alert_from_json, event_to_json, write_jsonl
from streams.ops.launcher import start_worker, stop_worker, wait_ready
from tests.factories import MIN, T0, adult, message, minor
from tests.streaming import wait_for
from tests.tls_proxy import TlsProxy, make_certificates

pytestmark = [pytest.mark.broker, pytest.mark.slow]

USER = "guardline-worker"


@pytest.fixture
def secured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, TlsProxy, str]]:
    """(bootstrap, proxy, password): the broker reachable through the TLS proxy only."""
    certs = make_certificates(tmp_path)
    password = "pw-" + secrets.token_hex(12)
    port = _port_free_on_both("127.0.0.1", "127.0.0.2")
    properties = tmp_path / "client.properties"
    properties.write_text(
        "# as for kafka-console-consumer --command-config\n"
        "security.protocol=SASL_SSL\n"
        "sasl.mechanism=PLAIN\n"
        f"ssl.cafile={certs.ca}\n"
        f"ssl.certfile={certs.client_cert}\n"
        f"ssl.keyfile={certs.client_key}\n"
    )
    monkeypatch.setenv(kafka_settings.CONFIG_FILE_ENV, str(properties))
    monkeypatch.setenv("GUARDLINE_SASL_USERNAME", USER)
    monkeypatch.setenv("GUARDLINE_SASL_PASSWORD", password)
    with (
        EmbeddedBroker(port, host="127.0.0.2") as broker,
        TlsProxy("127.0.0.1", broker.host, port, certs, USER, password) as proxy,
    ):
        yield f"127.0.0.1:{port}", proxy, password


def _port_free_on_both(*hosts: str) -> int:
    for _ in range(20):
        port = free_port(hosts[0])
        try:
            for host in hosts[1:]:
                with socket.socket() as sock:
                    sock.bind((host, port))
            return port
        except OSError:
            continue
    raise RuntimeError("no port free on both addresses")


def _guardline(
    *args: str, bootstrap: str, timeout_s: float = 90
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams", *args, "--bootstrap", bootstrap],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env={**os.environ, BOOTSTRAP_ENV: bootstrap},
    )


def test_worker_produce_and_tail_work_through_tls_and_sasl_only(
    secured: tuple[str, TlsProxy, str], tmp_path: Path
) -> None:
    bootstrap, proxy, password = secured
    attacker = adult("u-tls", anonymous=True)
    events = [message(attacker, minor(f"m-{i}"), T0 + i * MIN, eid=f"tls-{i}") for i in range(20)]
    expected = {(a.alert_id, a.revision) for a in run_backtest(events, load_config())}
    assert expected  # the oracle: the same detectors offline
    path = tmp_path / "events.jsonl"
    write_jsonl(path, (event_to_json(e) for e in events))
    outputs: list[str] = []

    created = _guardline("topics", bootstrap=bootstrap)
    outputs += [created.stdout, created.stderr]
    assert created.returncode == 0, created.stderr

    proc, ready, log = start_worker(bootstrap, tmp_path, app_id="tls", extra=("--loglevel", "info"))
    tail_cmd = ["alerts", "tail", "--from-beginning", "--topic", "guardline.alerts.v1"]
    tail = subprocess.Popen(
        [sys.executable, "-m", "streams", *tail_cmd, "--bootstrap", bootstrap],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_ready(proc, ready, log, timeout_s=60)
        produced = _guardline("produce", str(path), bootstrap=bootstrap)
        outputs += [produced.stdout, produced.stderr]
        assert produced.returncode == 0, produced.stderr
        assert f"sent {len(events)} events" in produced.stdout

        export = tmp_path / "alerts.jsonl"

        def exported() -> bool:
            done = _guardline(
                "alerts", "export", "-o", str(export), "--idle", "1", bootstrap=bootstrap
            )
            outputs.extend([done.stdout, done.stderr])
            lines = export.read_text().splitlines() if export.exists() else []
            got = {(a.alert_id, a.revision) for a in map(alert_from_json, map(json.loads, lines))}
            return done.returncode == 0 and got == expected

        wait_for(exported, 90, "the backtest's alerts, read through TLS")
        # Idle now: the worker and the tail each fetch at most 20 times a second (paced at
        # 50 ms, streams/fetch_pacing.py); unpaced, the worker alone fetched ~1,100 times a
        # second here.
        time.sleep(1.0)
        before, started = proxy.stats.fetches, time.monotonic()
        time.sleep(3.0)
        idle_fetch_rate = (proxy.stats.fetches - before) / (time.monotonic() - started)
    finally:
        stop_worker(proc)
        tail.terminate()
        tail_out, _ = tail.communicate(timeout=30)
    outputs += [tail_out, log.read_text()]
    assert attacker.id in tail_out  # the live tail read them too
    assert idle_fetch_rate < 150, idle_fetch_rate  # load-robust: a busy machine only lowers it

    assert proxy.stats.rejected == []
    # Every connection (CLI admin, producer, consumers; the worker's consumer, producer and
    # admin) showed the client certificate and authenticated as USER with the password.
    assert proxy.stats.tls_sessions >= 5
    assert proxy.stats.authenticated == proxy.stats.tls_sessions
    for text in outputs:
        assert password not in text


def test_a_plaintext_client_gets_no_kafka_answer_from_the_tls_port(
    secured: tuple[str, TlsProxy, str],
) -> None:
    bootstrap, proxy, _password = secured
    host, _, port = bootstrap.rpartition(":")
    api_versions = struct.pack(">hhih", 18, 0, 1, 0)  # ApiVersions v0, no client id
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(struct.pack(">i", len(api_versions)) + api_versions)
        answer = sock.recv(4096)
    # Not a Kafka frame (size + correlation id 1): a TLS alert, or the connection closed.
    assert answer[4:8] != struct.pack(">i", 1)
    assert proxy.stats.tls_sessions == 0
