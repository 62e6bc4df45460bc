"""Fan-out and dead letters as records (`streams/pipeline/outputs.py`), no broker."""

from __future__ import annotations

import dataclasses

import pytest

from streams import topics
from streams.codec import decode_alert, decode_dead_letter
from streams.config import Mode
from streams.engine.core import Engine
from streams.model import Alert, Severity
from streams.pipeline.envelope import Packet, unpack
from streams.pipeline.outputs import alert_records, dead_letter_record, routed_records
from streams.pipeline.route import Rejected
from streams.validation import InvalidEvent
from tests.factories import MIN, T0, adult, message, minor

HEADERS: dict[str, bytes | None] = dict.fromkeys(
    spec.name for spec in (topics.ALERTS, topics.PRIORITY, topics.SHADOW, topics.DEAD_LETTER)
)


def an_alert(severity: Severity) -> Alert:
    from streams.config import load_config

    engine: Engine = load_config().new_engine(clock_ms=lambda: T0)
    attacker = adult("u-attacker", anonymous=True)
    for i in range(20):
        for alert in engine.process(message(attacker, minor(f"m-{i}"), T0 + i * MIN)):
            return dataclasses.replace(alert, severity=severity)
    raise AssertionError("no alert")


@pytest.mark.parametrize(
    ("severity", "mode", "expected"),
    [
        (Severity.CRITICAL, Mode.ENFORCE, [topics.ALERTS.name, topics.PRIORITY.name]),
        (Severity.HIGH, Mode.ENFORCE, [topics.ALERTS.name, topics.PRIORITY.name]),
        (Severity.MEDIUM, Mode.ENFORCE, [topics.ALERTS.name]),
        (Severity.LOW, Mode.ENFORCE, [topics.ALERTS.name]),
        (Severity.CRITICAL, Mode.SHADOW, [topics.SHADOW.name]),
    ],
)
def test_alert_fan_out(severity: Severity, mode: Mode, expected: list[str]) -> None:
    alert = an_alert(severity)
    records = alert_records(alert, mode, HEADERS)
    assert [r.topic for r in records] == expected
    key = f"{alert.subject.kind.value}:{alert.subject.id}".encode()
    assert all(r.key == key and decode_alert(r.value) == alert for r in records)


def test_a_dead_letter_keeps_the_key_the_bytes_and_the_reason() -> None:
    error = InvalidEvent("undecodable", None, "not a single-object encoded Avro record")
    record = dead_letter_record(Rejected(2, 41, b"u-x", b"junk", error), HEADERS, T0)
    assert (record.topic, record.key, record.partition) == (topics.DEAD_LETTER.name, b"u-x", None)
    letter = decode_dead_letter(record.value)
    assert (letter.reason_code, letter.original_value, letter.original_key) == (
        "undecodable", b"junk", b"u-x",
    )  # fmt: skip
    assert (letter.source_partition, letter.source_offset, letter.failed_at_ms) == (2, 41, T0)


def test_routed_records_go_to_their_partition_with_the_input_timestamp() -> None:
    event = message(adult(), minor("m-1"), T0)
    item = ("ACCOUNT:u-adult", event, ("new_contact_burst",))
    packets = [(3, Packet(1, T0, [item])), (0, Packet(2, T0, []))]
    records = routed_records(packets, {1: 1_795_000_000.5})
    assert [(r.topic, r.partition, r.timestamp_s) for r in records] == [
        (topics.ROUTED.name, 3, 1_795_000_000.5),
        (topics.ROUTED.name, 0, None),
    ]
    assert unpack(records[0].value).items == [item]
