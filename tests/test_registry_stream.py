"""A real worker with a schema registry configured (the in-process fake): its alerts and dead
letters are Confluent-framed and readable by a standard consumer, and it accepts input events
in both framings. Without a registry, single-object framing is covered by test_stream.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaProducer

from streams import topics
from streams.alerts_feed import export_alerts
from streams.backtest import run_backtest
from streams.broker import EmbeddedBroker
from streams.codec import SCHEMA_DIR, encode_event
from streams.config import load_config
from streams.jsonl import alert_from_json
from streams.model import Severity
from streams.registry import SchemaRegistry
from streams.wire import confluent_header, value_subject
from tests.factories import MIN, T0, adult, message, minor
from tests.fake_registry import FakeRegistry, fake_registry
from tests.streaming import read_topic, running_worker, wait_for
from tests.test_wire import standard_consumer

pytestmark = [pytest.mark.broker, pytest.mark.slow]


@pytest.fixture
def broker() -> Iterator[str]:
    with EmbeddedBroker() as b:
        topics.ensure_topics(b.bootstrap)
        yield b.bootstrap


@pytest.fixture
def registry() -> Iterator[FakeRegistry]:
    with fake_registry() as fake:
        yield fake


def test_registry_configured_worker_writes_confluent_wire_format(
    broker: str, registry: FakeRegistry, tmp_path: Path
) -> None:
    # An upstream producer that uses the registry too: half the input is Confluent-framed.
    event_id = registry.register(
        value_subject(topics.EVENTS.name), (SCHEMA_DIR / "metadata_event.avsc").read_text()
    )
    attacker = adult("u-attacker", anonymous=True)
    events = [message(attacker, minor(f"m-{i}"), T0 + i * MIN, eid=f"sr-{i}") for i in range(20)]
    junk = b"\x00\x00\x00\x00\x63not avro"  # Confluent-framed, unknown schema id 99
    producer = KafkaProducer(bootstrap_servers=broker, acks="all")
    with running_worker(broker, tmp_path, "sr", "--schema-registry", registry.url):
        for i, ev in enumerate(events):
            header = confluent_header(event_id) if i % 2 else None
            producer.send(topics.EVENTS.name, key=b"u-attacker", value=encode_event(ev, header))
        producer.send(topics.EVENTS.name, key=b"u-junk", value=junk)
        producer.flush()
        raw = wait_for(
            lambda: [
                r for r in read_topic(broker, topics.ALERTS.name)
                if standard_consumer(r, registry.schemas)["severity"] == "HIGH"
            ],
            60, "a HIGH alert on the alert topic",
        )  # fmt: skip
        letters = wait_for(lambda: read_topic(broker, topics.DEAD_LETTER.name), 30, "a dead letter")

    assert set(registry.subjects) >= {
        value_subject(t.name)
        for t in (topics.ALERTS, topics.PRIORITY, topics.SHADOW, topics.DEAD_LETTER)
    }
    alerts = [
        standard_consumer(r, registry.schemas) for r in read_topic(broker, topics.ALERTS.name)
    ]
    assert all(r[:1] == b"\x00" for r in read_topic(broker, topics.ALERTS.name))
    high = standard_consumer(raw[0], registry.schemas)
    first_high = next(a for a in run_backtest(events, load_config()) if a.severity is Severity.HIGH)
    assert (high["alert_id"], high["detector"]) == (first_high.alert_id, first_high.detector)
    assert high["subject"] == {"kind": "ACCOUNT", "id": "u-attacker"}
    # Evidence spans both framings: the worker read single-object and Confluent input alike.
    evidence = {int(e.removeprefix("sr-")) for a in alerts for e in a["evidence_event_ids"]}
    assert {i % 2 for i in evidence} == {0, 1}

    priority = read_topic(broker, topics.PRIORITY.name)
    assert priority and all(r[:1] == b"\x00" for r in priority)
    assert {standard_consumer(r, registry.schemas)["alert_id"] for r in priority} == {
        a["alert_id"] for a in alerts if a["severity"] in ("HIGH", "CRITICAL")
    }

    assert len(letters) == 1 and letters[0][:1] == b"\x00"
    letter = standard_consumer(letters[0], registry.schemas)
    assert (letter["reason_code"], letter["original_value"]) == ("unknown_schema", junk)

    # Guardline's own reader (alerts export) resolves the ids through the registry.
    out = tmp_path / "alerts.jsonl"
    n = export_alerts(
        broker, out, topics.ALERTS.name, idle_timeout_s=2, resolver=SchemaRegistry(registry.url)
    )
    exported = [alert_from_json(json.loads(line)) for line in out.read_text().splitlines()]
    assert n == len(alerts) == len(exported)
    assert {a.alert_id for a in exported} == {a["alert_id"] for a in alerts}
