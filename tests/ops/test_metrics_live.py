"""A real Prometheus scraping a real worker during a short demo-like stream.

One run (module fixture): a broker of its own, a worker with one detector in shadow mode, the
Debian `prometheus` binary scraping it every second, simulated traffic plus a few malformed
records. The tests then check every dashboard query against Prometheus, every metric family
on /metrics, and that the worker serves nothing but its three endpoints.
"""

from __future__ import annotations

import math
import re
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kafka import KafkaProducer

from streams import topics
from streams.broker import EmbeddedBroker
from streams.cases.commands import decision_sender
from streams.codec import encode_event
from streams.model import Action, Decision, Event
from streams.ops.dashboard import all_queries
from streams.ops.launcher import free_port, start_worker, stop_worker, wait_ready
from streams.ops.metrics import CHECKED_FAMILIES, scrape
from streams.ops.prometheus_local import LocalPrometheus
from streams.produce import make_producer, send_events
from streams.simulate import SimulationConfig, simulate
from tests.ops.test_prometheus_rules import EXPECTED as EXPECTED_RULES
from tests.streaming import read_alerts, wait_for

pytestmark = [pytest.mark.broker, pytest.mark.slow]

SHADOW = "anonymous_churn"


@dataclass
class Run:
    metrics_url: str
    worker_pid: int
    metrics_port: int
    prometheus: LocalPrometheus
    started_s: float
    events: list[Event]
    bad: dict[bytes, str]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    work = tmp_path_factory.mktemp("metrics-live")
    config = work / "shadow.toml"
    config.write_text(f'[detectors.{SHADOW}]\nmode = "shadow"\n')
    sim = simulate(SimulationConfig(seed=7, normal_users=300, groups=30, events_target=10_000))
    good = sim.events[0]
    bad = {
        b"not avro at all": "undecodable",
        encode_event(good)[:-3]: "bad_avro",
        b"\xc3\x01" + b"\x00" * 8 + b"body": "unknown_schema",
    }
    with EmbeddedBroker() as broker:
        bootstrap = broker.bootstrap
        topics.ensure_topics(bootstrap)
        port = free_port()
        proc, ready, log_path = start_worker(
            bootstrap, work, app_id="metrics-live", extra=("--config", str(config)),
            metrics_port=port,
        )  # fmt: skip
        try:
            wait_ready(proc, ready, log_path, timeout_s=60)
            prom = LocalPrometheus([f"127.0.0.1:{port}"], work / "prometheus").start()
            try:
                # Rates need a scrape before the first increase: wait for one.
                wait_for(lambda: prom.query('up{job="guardline"} == 1'), 30, "a first scrape")
                started = time.time()
                send_events(make_producer(bootstrap), sim.events)
                producer = KafkaProducer(bootstrap_servers=bootstrap)
                for value in bad:
                    producer.send(topics.EVENTS.name, key=b"u-x", value=value)
                producer.flush()
                producer.close()
                url = f"http://127.0.0.1:{port}/metrics"
                wait_for(
                    lambda: _caught_up(url, len(sim.events), len(bad)), 120,
                    "the worker to process every event, and one scrape after that",
                )  # fmt: skip
                # Two moderators' decisions on one case: the precision panel's input.
                _decide_twice(bootstrap)
                wait_for(
                    lambda: scrape(url).get("guardline_decisions_total", 0) == 2, 60,
                    "the worker counting both decisions",
                )  # fmt: skip
                time.sleep(3)  # a few scrapes of the final state
                yield Run(url, proc.pid, port, prom, started, sim.events, bad)
            finally:
                prom.stop()
        finally:
            stop_worker(proc)


def _decide_twice(bootstrap: str) -> None:
    case = next(a for a in read_alerts(bootstrap) if a.detector != SHADOW)
    send = decision_sender(bootstrap)
    for n, action in enumerate((Action.CONFIRM, Action.CLEAR)):
        send(Decision(f"d-{n}", case.alert_id, case.detector, case.subject, action,
                      case.trigger_ts_ms, 0))  # fmt: skip


def _caught_up(url: str, events: int, bad: int) -> bool:
    sums = scrape(url)
    return (
        sums.get("guardline_input_events_total", 0) == events
        and sums.get("guardline_rejected_events_total", 0) == bad
        and sums.get("guardline_consumer_lag_records", -1) == 0
        and sums.get("guardline_alerts_total", 0) > 0
        # Refreshed every 5 s only: CI once caught up and queried before the first refresh.
        and sums.get("guardline_state_keys", 0) > 0
    )


def test_every_dashboard_query_returns_data_from_prometheus(run: Run) -> None:
    empty = []
    for title, expr in all_queries():
        data = run.prometheus.api(
            "query_range", query=expr, start=f"{run.started_s - 5:.3f}",
            end=f"{time.time():.3f}", step="1s",
        )  # fmt: skip
        values = [
            float(v)
            for series in data["result"]
            for _, v in series["values"]
            if math.isfinite(float(v))
        ]
        if not any(values):
            empty.append(f"{title}: {expr} -> {len(data['result'])} series, no non-zero value")
    assert not empty, "\n".join(empty)


def test_every_metric_family_is_non_zero_after_a_run(run: Run) -> None:
    sums = scrape(run.metrics_url)
    # Lag drains to 0 once caught up: Prometheus saw it during the run.
    peak = run.prometheus.query("max(max_over_time(guardline_consumer_lag_records[10m]))")
    sums["guardline_consumer_lag_records"] = float(peak[0]["value"][1]) if peak else 0.0
    zero = [name for name in CHECKED_FAMILIES if not sums.get(name)]
    assert not zero, f"families without a non-zero value: {zero}"
    assert sums["guardline_input_events_total"] == len(run.events)
    assert sums["guardline_rejected_events_total"] == len(run.bad)
    by_reason = run.prometheus.query("sum by (reason) (guardline_rejected_events_total) > 0")
    assert {s["metric"]["reason"] for s in by_reason} == set(run.bad.values())
    shadow = run.prometheus.query("sum by (detector) (guardline_shadow_alerts_total) > 0")
    assert {s["metric"]["detector"] for s in shadow} == {SHADOW}
    live = run.prometheus.query("sum by (detector) (guardline_alerts_total) > 0")
    assert SHADOW not in {s["metric"]["detector"] for s in live}
    precision = run.prometheus.query(
        'sum by (detector) (guardline_decisions_total{action="CONFIRM"}) / '
        'sum by (detector) (guardline_decisions_total{action=~"CONFIRM|CLEAR"})'
    )
    assert [float(s["value"][1]) for s in precision if s["value"][1] != "NaN"] == [0.5]


def test_prometheus_evaluates_the_repository_rules(run: Run) -> None:
    groups = run.prometheus.api("rules")["groups"]
    names = {rule["name"] for group in groups for rule in group["rules"]}
    assert names == EXPECTED_RULES
    assert all(rule["health"] == "ok" for g in groups for rule in g["rules"]), groups


def _listening_ports(pid: int) -> set[int]:
    """TCP ports a process listens on, from /proc (its socket inodes vs. the LISTEN table)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = fd.readlink().as_posix()
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            cols = line.split()
            if cols[3] == "0A" and cols[9] in inodes:  # 0A = LISTEN
                ports.add(int(cols[1].rsplit(":", 1)[1], 16))
    return ports


def test_worker_serves_only_its_three_endpoints_and_no_faust_web(run: Run) -> None:
    assert _listening_ports(run.worker_pid) == {run.metrics_port}
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", 6066), timeout=2).close()  # Faust's web port
    base = f"http://127.0.0.1:{run.metrics_port}"
    for path in ("/", "/table/guardline-state", "/router/", "/graph/", "/stats/", "/events"):
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(base + path, timeout=5)
        assert err.value.code == 404, path
    bodies = ""
    for path in ("/metrics", "/healthz", "/readyz"):
        with urllib.request.urlopen(base + path, timeout=5) as resp:
            assert resp.status == 200, path
            bodies += resp.read().decode()
    assert "ready: input partitions 0,1,2,3" in bodies
    ids = {e.actor.id for e in run.events} | {e.event_id for e in run.events}
    leaked = sorted(ids & set(re.findall(r"[\w\-.:]+", bodies)))
    assert not leaked, f"ids in endpoint bodies: {leaked[:10]}"


def _readyz(port: int) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def test_readyz_turns_503_when_the_broker_goes_away(tmp_path: Path) -> None:
    with EmbeddedBroker() as broker:
        topics.ensure_topics(broker.bootstrap)
        port = free_port()
        proc, ready, log_path = start_worker(
            broker.bootstrap, tmp_path, app_id="readyz", metrics_port=port
        )
        try:
            wait_ready(proc, ready, log_path, timeout_s=60)
            assert _readyz(port) == (200, "ready: input partitions 0,1,2,3\n")
            broker.stop()
            got = wait_for(lambda: (r := _readyz(port))[0] == 503 and r, 30, "a 503 /readyz")
            assert got == (503, "not ready: broker unreachable\n")
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as resp:
                assert resp.status == 200  # alive: only readiness depends on the broker
        finally:
            stop_worker(proc, timeout_s=5)  # without a broker it cannot commit on the way out
