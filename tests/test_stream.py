"""The stream path end to end: real noida-db, real `guardline worker` processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaProducer

from streams import topics
from streams.backtest import run_backtest
from streams.broker import EmbeddedBroker
from streams.codec import encode_event
from streams.config import load_config
from streams.model import Severity
from streams.produce import make_producer, send_events
from streams.simulate import SimulationConfig, simulate
from tests.factories import MIN, T0, adult, message, minor
from tests.streaming import (
    CONFIG,
    WITH_CONFIG,
    assert_same_outputs,
    read_alerts,
    read_dead_letters,
    running_worker,
    wait_drained,
    wait_for,
)

pytestmark = [pytest.mark.broker, pytest.mark.slow]


@pytest.fixture
def broker() -> Iterator[str]:
    """A broker of the test's own (0.1 s to start), so topics hold only this test's data."""
    with EmbeddedBroker() as b:
        topics.ensure_topics(b.bootstrap)
        yield b.bootstrap


def test_produce_worker_alert_round_trip(broker: str, tmp_path: Path) -> None:
    attacker = adult("u-attacker", anonymous=True)
    events = [message(attacker, minor(f"m-{i}"), T0 + i * MIN, eid=f"rt-{i}") for i in range(20)]
    # The oracle: the backtest of the same events (its first HIGH is minor_exposure's, at the
    # fourth child; new_contact_burst's comes at the fifteenth).
    backtest = run_backtest(events, load_config())
    expected = next(a for a in backtest if a.severity is Severity.HIGH)
    high_cases = {a.alert_id for a in backtest if a.severity.rank >= Severity.HIGH.rank}
    with running_worker(broker, tmp_path, "rt"):
        send_events(make_producer(broker), events)
        alerts = wait_for(
            lambda: [a for a in read_alerts(broker) if a.severity is Severity.HIGH],
            60, "a HIGH alert on the alert topic",
        )  # fmt: skip
        # The priority topic ends up with exactly the backtest's HIGH+ cases.
        priority = wait_for(
            lambda: (p := read_alerts(broker, topics.PRIORITY.name))
            and {a.alert_id for a in p} == high_cases
            and p,
            60, "the backtest's HIGH+ cases on the priority topic",
        )  # fmt: skip
    assert alerts[0].subject.id == "u-attacker"
    assert (alerts[0].alert_id, alerts[0].detector) == (expected.alert_id, expected.detector)
    assert set(alerts[0].evidence_event_ids) <= {e.event_id for e in events}
    assert all(a.severity.rank >= Severity.HIGH.rank for a in priority)


def test_malformed_message_lands_in_dead_letter_topic_with_reason(
    broker: str, tmp_path: Path
) -> None:
    good = message(adult(), minor("m-1"), T0, eid="good-1")
    bad = {
        b"not avro at all": "undecodable",
        encode_event(good)[:-3]: "bad_avro",
        b"\xc3\x01" + b"\x00" * 8 + b"body": "unknown_schema",
    }
    producer = KafkaProducer(bootstrap_servers=broker)
    with running_worker(broker, tmp_path, "dlq"):
        for value in bad:
            producer.send(topics.EVENTS.name, key=b"u-x", value=value)
        producer.send(topics.EVENTS.name, key=b"u-adult", value=encode_event(good))
        producer.flush()
        letters = wait_for(
            lambda: (d := read_dead_letters(broker)) and len(d) >= len(bad) and d,
            60, "dead letters",
        )  # fmt: skip
    assert {d.original_value: d.reason_code for d in letters} == bad
    assert all(d.reason and d.source_topic == topics.EVENTS.name for d in letters)


def test_stream_and_backtest_give_the_same_alerts(broker: str, tmp_path: Path) -> None:
    """Every output topic, ids, revisions and content, once the worker committed all input."""
    scenarios = ("fast_contact_burst", "slow_contact_burst", "combined_attacker",
                 "bait_extortion", "young_adult_friends", "adult_onboarding")  # fmt: skip
    sim = simulate(SimulationConfig(seed=11, normal_users=300, groups=30, scenarios=scenarios))
    expected = run_backtest(sim.events, CONFIG)
    assert any(a.severity.rank >= Severity.HIGH.rank for a in expected)
    assert any(a.detector == "media_then_pushback" for a in expected)  # the newest path too
    with running_worker(broker, tmp_path, "parity", *WITH_CONFIG):
        send_events(make_producer(broker), sim.events)
        got = wait_drained(broker, "parity", timeout_s=120)
    assert_same_outputs(got, expected, CONFIG)
    assert got.shadow and got.priority
