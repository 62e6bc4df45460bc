"""Poison events on the real broker: a detector that raises on purpose (`tests/poison.py`)
dead-letters those events, the worker goes on, and its alerts equal the backtest's, which
skips the same (subject, event) pairs the same way."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from operator import attrgetter
from pathlib import Path

import pytest

from streams import topics
from streams.backtest import run_backtest
from streams.broker import EmbeddedBroker
from streams.codec import decode_event
from streams.config import load_config
from streams.detectors.new_contact_burst import NewContactBurstDetector
from streams.engine.core import routes
from streams.model import Event
from streams.ops.launcher import free_port, start_worker, stop_worker, wait_ready
from streams.ops.metrics import scrape
from streams.produce import make_producer, send_events
from streams.simulate import simulate
from tests.poison import POISON_ENV, failing_step
from tests.streaming import assert_same_alerts, expected_topics, wait_drained
from tests.test_resilience import SMALL

pytestmark = [pytest.mark.broker, pytest.mark.slow]

FAILING = NewContactBurstDetector.name


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[str]:
    with EmbeddedBroker(data_dir=tmp_path / "broker") as b:
        topics.ensure_topics(b.bootstrap)
        yield b.bootstrap


def poisoned_ids(events: list[Event]) -> list[str]:
    """Evidence of the first burst case (so the poison changes alerts) and a few other
    events the detector is routed, picked with a fixed seed."""
    clean = run_backtest(events, load_config())
    evidence = next(a for a in clean if a.detector == FAILING).evidence_event_ids
    burst = [d for d in load_config().active() if d.name == FAILING]
    routed = sorted(e.event_id for e in events if routes(burst, e))
    return sorted({*evidence[1:4], *random.Random(5).sample(routed, 5)})


def test_a_failing_detector_dead_letters_its_events_and_the_rest_equals_the_backtest(
    broker: str, tmp_path: Path
) -> None:
    events = simulate(SMALL).events
    ids = poisoned_ids(events)
    with failing_step(FAILING, ids):
        expected = run_backtest(events, load_config())
        engine = load_config().new_engine()
        engine.process_all(sorted(events, key=attrgetter("ts_ms", "event_id")))
    failures = sorted(f.event.event_id for f in engine.failures)
    assert sorted(set(failures)) == ids  # every planted failure is met
    assert {(a.alert_id, a.revision) for a in expected} != {
        (a.alert_id, a.revision) for a in run_backtest(events, load_config())
    }, "the poisoned events should change the alerts"

    port = free_port()
    proc, ready, log = start_worker(
        broker, tmp_path, app_id="poison", metrics_port=port, extra=("--log-format", "json"),
        module="tests.poison", env={POISON_ENV: f"{FAILING}={','.join(ids)}"},
    )  # fmt: skip
    try:
        wait_ready(proc, ready, log, timeout_s=60)
        send_events(make_producer(broker), events)
        outputs = wait_drained(broker, "poison", timeout_s=180)  # every output is final
        sums = scrape(f"http://127.0.0.1:{port}/metrics")
        assert proc.poll() is None, "the worker must go on"
    finally:
        stop_worker(proc)
    want = expected_topics(expected, load_config())
    for topic, alerts in outputs.alert_topics().items():
        assert_same_alerts(alerts, want[topic], topic)
    letters = outputs.dead_letters
    assert sorted(decode_event(d.original_value).event_id for d in letters) == failures
    assert all(d.reason_code == "processing_error" for d in letters)
    assert all(FAILING in d.reason and "PlantedFailure" in d.reason for d in letters)
    assert sums["guardline_processing_errors_total"] == len(failures)
    text = log.read_text()
    records = [json.loads(line) for line in text.splitlines()]  # --log-format json: every line
    poison = [r for r in records if "processing_error" in r["message"]]
    assert len(poison) == len(failures)
    assert all(r["level"] == "ERROR" and r["logger"] == "guardline.pipeline" for r in poison)
    assert all(
        f"{topics.ROUTED.name}[" in r["message"] and " offset " in r["message"] for r in poison
    )
    assert any(r["message"].startswith("assigned input partitions") for r in records)
    # The noise a normal run used to print (issue 17): gone, not filtered.
    assert not [r for r in records if "buffer full" in r["message"] or "_tick" in r["message"]]
    by_id = {e.event_id: e for e in events}
    for eid in ids:  # neither the event nor its accounts are named anywhere in the log
        event = by_id[eid]
        assert eid not in text and event.actor.id not in text
