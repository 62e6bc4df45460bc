"""kill -9 the broker with work in flight, three times in one stream, at three stages (issue 18).

A producer with the settings README gives platforms (`streams.produce.make_producer`: acks=all,
idempotent, retries) sends a simulation at a steady rate and records, per event, whether and
when the broker acknowledged it. The broker is SIGKILLed while the route stage has input to
route, while the detect stage has routed records to apply, and right as alerts are being
published; each time it is restarted on the same data dir and the worker, never restarted,
must carry on from wherever its requests were cut off.

Real Kafka keeps every write it acknowledged (acks=all: on every in-sync replica, and a
process crash keeps the page cache). noida-db keeps only its last snapshot, taken about once a
second: a kill loses what it acknowledged since (README, "Reliability"), which no client can
make up for. So at each kill point the worker is frozen (SIGSTOP) and the producer paused until
noida-db's state file holds every record it acknowledged, then the broker is killed and the
worker thawed: the kill cuts the worker's requests off mid-flight, as on Kafka, but loses no
acknowledged write. The promise checked: every acknowledged event is applied once, no send
fails, and every output topic equals the backtest of all events. "Applied" is read from the
worker's own engine (`tests/applied_events.py`): a routed (subject, event) pair never applied is
a late skip, named in the failure; one seen again after it was applied is a redelivery
(harmless: skipped by the subject's high-water mark, or applied again on a state restored from
before it), only counted.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from streams import topics
from streams.backtest import run_backtest
from streams.broker import EmbeddedBroker
from streams.codec import decode_event, encode_event
from streams.engine.core import routes
from streams.model import Event
from streams.ops.launcher import free_port, start_worker, stop_worker, wait_ready
from streams.ops.metrics import scrape
from streams.pipeline.envelope import unpack
from streams.produce import make_producer
from streams.simulate import simulate
from tests.applied_events import APPLIED_ENV, read_outcomes
from tests.streaming import (
    CONFIG,
    WITH_CONFIG,
    assert_same_outputs,
    committed_total,
    message_count,
    persisted,
    read_topic,
    readyz,
    wait_drained,
    wait_for,
)
from tests.test_resilience import SMALL

pytestmark = [pytest.mark.broker, pytest.mark.slow]


class AckingProducer(threading.Thread):
    """Sends `events` at `rate_per_s`, records each one's acknowledgement or error; `pause()`
    returns once every event sent so far has its outcome. At each index in `holds` it waits for
    a `release()`: however long a loaded machine takes to recover from the kills before, the
    stream still flows at the kill that releases it. After any wait it goes on at the same rate
    (no burst to catch up with the time lost)."""

    def __init__(
        self, bootstrap: str, events: list[Event], rate_per_s: float, holds: list[int]
    ) -> None:
        super().__init__(daemon=True)
        self.bootstrap, self.events, self.rate = bootstrap, events, rate_per_s
        self.holds = sorted(holds)
        self.releases = threading.Semaphore(0)
        self.acked: dict[str, float] = {}  # event id -> time.monotonic() of the ack
        self.failed: dict[str, str] = {}  # event id -> the error the producer reported
        self.sent = 0
        self.error: BaseException | None = None
        self.go = threading.Event()
        self.go.set()
        self.lock = threading.Lock()

    def run(self) -> None:
        try:
            producer = make_producer(self.bootstrap)
            start = time.monotonic()
            while self.sent < len(self.events):
                hold = bool(self.holds) and self.sent >= self.holds[0]
                if not self.go.is_set() or hold:
                    if hold:
                        self.releases.acquire()
                        self.holds.pop(0)
                    self.go.wait()
                    start = time.monotonic() - self.sent / self.rate  # the same rate after it
                with self.lock:
                    if not self.go.is_set():
                        continue
                    event = self.events[self.sent]
                    future = producer.send(
                        topics.EVENTS.name, key=event.actor.id.encode(), value=encode_event(event)
                    )
                    future.add_callback(self._ok, event.event_id)
                    future.add_errback(self._failed, event.event_id)
                    self.sent += 1
                ahead = self.sent / self.rate - (time.monotonic() - start)
                if ahead > 0:
                    time.sleep(ahead)
            producer.flush()
            producer.close()
        except BaseException as exc:  # surfaced by finish()
            self.error = exc

    def _ok(self, event_id: str, _metadata: object) -> None:
        self.acked[event_id] = time.monotonic()

    def _failed(self, event_id: str, exc: BaseException) -> None:
        self.failed[event_id] = type(exc).__name__

    def pause(self) -> None:
        self.go.clear()
        with self.lock:  # a send under way finishes first
            pass
        wait_for(
            lambda: len(self.acked) + len(self.failed) == self.sent, 30,
            "an outcome for every event sent", interval_s=0.02,
        )  # fmt: skip

    def resume(self) -> None:
        self.go.set()

    def release(self) -> None:
        self.releases.release()

    def finish(self, timeout_s: float = 180) -> None:
        self.join(timeout_s)
        assert not self.is_alive(), "producer did not finish"
        assert self.error is None, self.error
        assert len(self.acked) + len(self.failed) == len(self.events), "an event has no outcome"


def input_events(bootstrap: str) -> dict[str, list[Event]]:
    """Every event on the input topic, by event id (a list: copies are allowed)."""
    found: dict[str, list[Event]] = {}
    for value in read_topic(bootstrap, topics.EVENTS.name):
        event = decode_event(value)
        found.setdefault(event.event_id, []).append(event)
    return found


# Seen in 5 of 7 runs before issue 18's fix: input records fetched during the rebalance after
# the first broker restart (before the worker's first commit) were committed but never routed.
# Faust discarded that fetch and sought "to the committed offsets", which moves only partitions
# that have one (`streams/adapters/faust/consumer.py`). Named here so a return of it says so.
ROUTE_SKIPS_AFTER_BROKER_RESTART = (
    "input records committed but never routed after a broker restart (issue 18's defect)"
)


def never_routed(bootstrap: str, events: list[Event]) -> set[tuple[str, str]]:
    """(subject key, event id) pairs the router should have sent and no routed packet holds."""
    routed = {
        (key, event.event_id)
        for value in read_topic(bootstrap, topics.ROUTED.name)
        for key, event, _names in unpack(value).items
    }
    return expected_pairs(events) - routed


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker(data_dir=tmp_path / "broker") as b:
        topics.ensure_topics(b.bootstrap)
        yield b


def stages(bootstrap: str) -> list[tuple[str, Callable[[], bool]]]:
    """(stage, condition that holds while the stage has work in flight), in kill order."""

    def lag(topic: str) -> int:
        return sum(topics.consumer_lag(bootstrap, "brokerload", topic).values())

    last = [message_count(bootstrap, topics.ALERTS.name)]

    def publishing() -> bool:  # the alert topic grew since the previous look
        now = message_count(bootstrap, topics.ALERTS.name)
        grew, last[0] = now > last[0], now
        return grew

    return [
        ("route", lambda: lag(topics.EVENTS.name) > 0),
        ("detect", lambda: lag(topics.ROUTED.name) > 0),
        ("alert publication", publishing),
    ]


def expected_pairs(events: list[Event]) -> set[tuple[str, str]]:
    """(subject key, event id) pairs the router sends on: what the detect stage must apply."""
    detectors = CONFIG.active()
    return {(key, e.event_id) for e in events for key in routes(detectors, e)}


def never_applied(
    outcomes: dict[tuple[str, str], Counter[str]], events: list[Event]
) -> set[tuple[str, str]]:
    """Late skips: pairs the engine never applied (skipped by a high-water mark that passed
    them, or never seen): acknowledged events lost."""
    return {pair for pair in expected_pairs(events) if not outcomes.get(pair, Counter())["applied"]}


def redeliveries(outcomes: dict[tuple[str, str], Counter[str]]) -> int:
    """Times a pair reached the engine after its first application (skipped by the subject's
    high-water mark, or applied again on a state restored from before it): harmless."""
    return sum(n.total() - 1 for n in outcomes.values() if n["applied"])


# Rounds of the three kills in one stream (3 kills a round): the loop that measures this test
# under load varies it; the suite runs one round.
ROUNDS_ENV = "GUARDLINE_TEST_KILL_ROUNDS"


def test_broker_kill_9_with_work_in_flight_applies_every_acknowledged_event(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    events = simulate(SMALL).events
    rounds = int(os.environ.get(ROUNDS_ENV, "1"))
    bootstrap, app_id, port = broker.bootstrap, "brokerload", free_port()
    extra = ("--instance-id", "bl-w1", *WITH_CONFIG)
    audit = tmp_path / "applied.tsv"
    proc, ready, log = start_worker(
        bootstrap, tmp_path, app_id=app_id, extra=extra, metrics_port=port,
        module="tests.applied_events", env={APPLIED_ENV: str(audit)},
    )  # fmt: skip
    in_flight: list[str] = []
    try:
        wait_ready(proc, ready, log, timeout_s=60)
        kills = stages(bootstrap) * rounds
        # Each kill lets the producer on to the next hold (the last 3 s of traffic wait for
        # the last kill): the stream flows at every kill, however long a loaded machine took
        # to recover from the one before.
        holds = [len(events) * k // len(kills) - 300 for k in range(1, len(kills) + 1)]
        producer = AckingProducer(bootstrap, events, rate_per_s=100, holds=holds)
        producer.start()
        for number, (stage, busy) in enumerate(kills, 1):
            producer.release()
            wait_for(
                busy, 60, f"the {stage} stage at work (kill {number}, {producer.sent} sent)",
                interval_s=0.02,
            )  # fmt: skip
            os.kill(proc.pid, signal.SIGSTOP)
            try:
                producer.pause()
                assert producer.sent < len(events), f"the stream must still flow at {stage}"
                lags = {
                    spec.name: sum(topics.consumer_lag(bootstrap, app_id, spec.name).values())
                    for spec in (topics.EVENTS, topics.ROUTED)
                }
                in_flight.append(f"{stage}: lag {lags}")
                wait_for(lambda: persisted(broker), 30, "noida-db to save every record", 0.1)
                committed = committed_total(bootstrap, app_id, topics.EVENTS.name)
                broker.kill()
            finally:
                os.kill(proc.pid, signal.SIGCONT)
            wait_for(lambda: readyz(port) == 503, 30, "the worker to see the broker gone", 0.1)
            assert proc.poll() is None, "a broker outage must not kill the worker"
            broker.start()
            producer.resume()
            wait_for(
                lambda c=committed: committed_total(bootstrap, app_id, topics.EVENTS.name) > c,
                120, f"the worker to commit input again after the {stage} kill", interval_s=0.1,
            )  # fmt: skip
        producer.finish()
        got = wait_drained(bootstrap, app_id, timeout_s=240, metrics_port=port)
        assert proc.poll() is None
        metrics = scrape(f"http://127.0.0.1:{port}/metrics")
    finally:
        stop_worker(proc)
    kept = input_events(bootstrap)
    assert producer.failed == {}, "a send failed although the broker lost nothing"
    # Each acknowledged event once on the input topic (the idempotent producer's retries
    # after a cut-off request add no copy), and every output as the backtest of all of them.
    assert {eid: len(copies) for eid, copies in kept.items()} == dict.fromkeys(producer.acked, 1)
    skipped = never_routed(bootstrap, events)
    assert not skipped, (
        f"{ROUTE_SKIPS_AFTER_BROKER_RESTART}: {len(skipped)} (subject, event) pairs of"
        f" {len({eid for _key, eid in skipped})} acknowledged events in no routed packet"
    )
    outcomes = read_outcomes(audit)
    late = never_applied(outcomes, events)
    assert not late, (
        f"late skips: {len(late)} routed (subject, event) pairs never applied (acknowledged"
        f" events lost): {sorted(late)}"
    )
    assert_same_outputs(got, run_backtest(events, CONFIG), CONFIG)
    counts = {
        name: metrics.get(f"guardline_{name}_total")
        for name in ("routed_holes", "input_rereads", "skipped_events")
    }
    print(
        f"\nbroker kill -9 with work in flight ({'; '.join(in_flight)}): {len(events)} events"
        f" all acknowledged, every routed pair applied ({len(outcomes)} pairs,"
        f" {redeliveries(outcomes)} redeliveries, late skips 0; worker counters {counts});"
        f" {len(got.alerts)} alerts, {len(got.priority)} priority, {len(got.shadow)} shadow,"
        f" {len(got.dead_letters)} dead letters == backtest"
    )
