"""Both framings, byte for byte: Confluent (00 + id) and single-object (C3 01 + fingerprint),
written by the codec and read back by it and by a plain fastavro "standard consumer"."""

from __future__ import annotations

import json
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from fastavro import parse_schema, schemaless_reader, schemaless_writer
from hypothesis import given
from hypothesis import strategies as st

from streams.codec import (
    SCHEMA_DIR,
    RegistryUnavailable,
    decode_alert,
    decode_dead_letter,
    decode_event,
    encode_alert,
    encode_dead_letter,
    encode_event,
)
from streams.jsonl import alert_from_json, event_from_json
from streams.model import Alert, Event
from streams.validation import REASON_CODES, InvalidEvent
from streams.wire import (
    CONFLUENT_HEADER_LEN,
    MAX_SCHEMA_ID,
    Framing,
    confluent_header,
    confluent_schema_id,
    framing_of,
    value_subject,
)
from tests.test_codec import alerts, events

EVENT = event_from_json(
    json.loads(
        (Path(__file__).parent / "data" / "contract_examples.jsonl").read_text().split("\n")[0]
    )
)
ALERT = alert_from_json(
    {
        "alert_id": "a-1", "detector": "new_contact_burst", "detector_version": "1",
        "severity": "HIGH", "score": 0.9, "subject": {"kind": "ACCOUNT", "id": "u-17"},
        "window_start": 1_795_000_000_000, "window_end": 1_795_000_600_000,
        "trigger_ts": 1_795_000_600_000, "features": {"distinct_minors": 6.0},
        "counterparts": ["u-903"], "minors_exposed": 6, "evidence_event_ids": ["e-1"],
        "reason": "Contacted 6 minors in 10 minutes (threshold 5).",
        "emitted_at": 1_795_000_600_001, "revision": 2, "detectors_on_subject": ["x"],
    }
)  # fmt: skip


class DictResolver:
    """A registry in a dict; `down` makes every lookup fail as an unreachable registry would."""

    def __init__(self, schemas: dict[int, str]) -> None:
        self.schemas = schemas
        self.down = False
        self.calls = 0

    def schema_text(self, schema_id: int) -> str:
        self.calls += 1
        if self.down:
            raise RegistryUnavailable("connection refused")
        try:
            return self.schemas[schema_id]
        except KeyError:
            raise LookupError(f"no schema {schema_id}") from None


def _schema(name: str) -> str:
    return (SCHEMA_DIR / name).read_text()


def standard_consumer(data: bytes, registry: dict[int, str]) -> dict[str, Any]:
    """What any Confluent-aware consumer does: strip 00 + id, fetch the schema, read Avro."""
    assert data[0] == 0
    schema_id = int.from_bytes(data[1:5], "big")
    buf = BytesIO(data[5:])
    record: dict[str, Any] = schemaless_reader(buf, parse_schema(json.loads(registry[schema_id])))
    assert buf.tell() == len(data) - 5
    return record


def test_confluent_header_is_zero_then_big_endian_id() -> None:
    assert confluent_header(1) == b"\x00\x00\x00\x00\x01"
    assert confluent_header(0x01020304) == b"\x00\x01\x02\x03\x04"
    assert confluent_schema_id(confluent_header(0x01020304) + b"body") == 0x01020304
    with pytest.raises(ValueError):
        confluent_header(MAX_SCHEMA_ID + 1)
    with pytest.raises(ValueError):
        confluent_header(-1)
    with pytest.raises(ValueError):
        confluent_schema_id(b"\xc3\x01" + bytes(8))


@given(st.integers(0, MAX_SCHEMA_ID), st.binary(max_size=50))
def test_header_round_trip(schema_id: int, body: bytes) -> None:
    framed = confluent_header(schema_id) + body
    assert framing_of(framed) is Framing.CONFLUENT
    assert confluent_schema_id(framed) == schema_id
    assert framed[CONFLUENT_HEADER_LEN:] == body


@pytest.mark.parametrize(
    ("data", "framing"),
    [
        (None, None), (b"", None), (b"\x00\x00\x00\x01", None), (b"{}", None),
        (b"\x00\x00\x00\x00\x07", Framing.CONFLUENT), (b"\xc3\x01", Framing.SINGLE_OBJECT),
    ],
)  # fmt: skip
def test_first_bytes_decide_the_framing(data: bytes | None, framing: Framing | None) -> None:
    assert framing_of(data) is framing


def test_subject_follows_topic_name_strategy() -> None:
    assert value_subject("guardline.alerts.v1") == "guardline.alerts.v1-value"


def test_confluent_alert_is_the_single_object_body_behind_another_header() -> None:
    single = encode_alert(ALERT)
    confluent = encode_alert(ALERT, confluent_header(42))
    assert single[:2] == b"\xc3\x01"
    assert confluent[:5] == b"\x00\x00\x00\x00\x2a"
    assert confluent[5:] == single[10:]


def test_standard_consumer_reads_what_guardline_writes() -> None:
    registry = {7: _schema("alert.avsc"), 8: _schema("dead_letter.avsc")}
    record = standard_consumer(encode_alert(ALERT, confluent_header(7)), registry)
    assert record["alert_id"] == "a-1"
    assert record["subject"] == {"kind": "ACCOUNT", "id": "u-17"}
    assert record["revision"] == 2
    letter = encode_dead_letter(
        reason_code="undecodable", reason="junk", field=None, source_topic="t",
        source_partition=1, source_offset=5, original_key=b"k", original_value=b"junk",
        failed_at_ms=1_795_000_000_000, header=confluent_header(8),
    )  # fmt: skip
    assert standard_consumer(letter, registry)["original_value"] == b"junk"
    assert decode_dead_letter(letter, DictResolver(registry)).source_offset == 5


def test_readers_accept_both_framings() -> None:
    resolver = DictResolver({3: _schema("alert.avsc"), 4: _schema("metadata_event.avsc")})
    assert decode_alert(encode_alert(ALERT)) == ALERT
    assert decode_alert(encode_alert(ALERT, confluent_header(3)), resolver) == ALERT
    assert decode_event(encode_event(EVENT, confluent_header(4)), resolver) == EVENT
    assert decode_event(encode_event(EVENT), resolver) == EVENT


def _code(data: bytes, resolver: DictResolver | None) -> str:
    with pytest.raises(InvalidEvent) as err:
        decode_event(data, resolver)
    return err.value.code


def test_confluent_failures_have_reason_codes_and_say_why() -> None:
    body = encode_event(EVENT)[10:]
    resolver = DictResolver({4: _schema("metadata_event.avsc"), 5: _schema("alert.avsc")})
    with pytest.raises(InvalidEvent, match="no schema registry is configured"):
        decode_event(confluent_header(4) + body)
    assert _code(confluent_header(4) + body, None) == "unknown_schema"
    assert _code(confluent_header(99) + body, resolver) == "unknown_schema"
    assert _code(confluent_header(5) + body, resolver) == "bad_avro"  # an alert schema
    assert _code(confluent_header(4) + body[:-2], resolver) == "bad_avro"
    assert _code(confluent_header(4) + body + b"\x00", resolver) == "bad_avro"
    resolver.down = True  # not the message's fault: a dead letter that can be replayed
    assert _code(confluent_header(4) + body, resolver) == "registry_unavailable"


def test_writer_schema_from_the_registry_is_resolved_to_the_current_one() -> None:
    """A producer with an older/other compatible writer schema: fields it lacks get defaults."""
    old = json.loads(_schema("alert.avsc"))
    old["fields"] = [f for f in old["fields"] if f["name"] != "detectors_on_subject"]
    assert len(old["fields"]) < len(json.loads(_schema("alert.avsc"))["fields"])
    buf = BytesIO()
    record = standard_consumer(encode_alert(ALERT, confluent_header(1)), {1: _schema("alert.avsc")})
    schemaless_writer(buf, parse_schema(old), record)
    alert = decode_alert(confluent_header(9) + buf.getvalue(), DictResolver({9: json.dumps(old)}))
    assert alert.alert_id == ALERT.alert_id
    assert alert.detectors_on_subject == ()


@given(st.binary(max_size=200))
def test_random_confluent_bytes_never_crash(tail: bytes) -> None:
    resolver = DictResolver({1: _schema("metadata_event.avsc")})
    try:
        decode_event(confluent_header(1) + tail, resolver)
    except InvalidEvent as err:
        assert err.code in REASON_CODES


@given(alerts, events(), st.integers(1, MAX_SCHEMA_ID))
def test_confluent_round_trips_are_lossless(alert: Alert, event: Event, schema_id: int) -> None:
    resolver = DictResolver({schema_id: _schema("alert.avsc")})
    assert decode_alert(encode_alert(alert, confluent_header(schema_id)), resolver) == alert
    resolver.schemas[schema_id] = _schema("metadata_event.avsc")
    assert decode_event(encode_event(event, confluent_header(schema_id)), resolver) == event
