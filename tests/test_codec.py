"""The Avro wire format: exact single-object header, lossless round trips, and a decoder that
answers any byte string with an Event or an InvalidEvent carrying a known reason code."""

from __future__ import annotations

import dataclasses
import json
from io import BytesIO
from pathlib import Path
from typing import Any

import avro.schema
import pytest
from fastavro import parse_schema, schemaless_writer
from hypothesis import given
from hypothesis import strategies as st

from streams import codec
from streams.codec import (
    MAGIC,
    SCHEMA_DIR,
    DeadLetter,
    decode_alert,
    decode_dead_letter,
    decode_decision,
    decode_event,
    encode_alert,
    encode_dead_letter,
    encode_decision,
    encode_event,
)
from streams.jsonl import alert_from_json, alert_to_json, event_from_json, event_to_json
from streams.model import (
    GROUP_REQUIRED,
    TARGET_FORBIDDEN,
    Account,
    Action,
    AgeBand,
    Alert,
    Decision,
    Event,
    EventType,
    Severity,
    Subject,
    SubjectKind,
)
from streams.validation import (
    MAX_ID_CHARS,
    MAX_MESSAGE_BYTES,
    REASON_CODES,
    TS_MAX_MS,
    TS_MIN_MS,
    InvalidEvent,
)

ids = st.text(min_size=1, max_size=12)
timestamps = st.integers(TS_MIN_MS, TS_MAX_MS - 1)
accounts = st.builds(
    Account,
    id=ids,
    age_band=st.sampled_from(AgeBand),
    created_ts_ms=st.none() | timestamps,
    anonymous=st.booleans(),
)


@st.composite
def events(draw: st.DrawFn) -> Event:
    """Valid events only: the per-type target/group rules of CONTRACT.md, no self contact."""
    kind = draw(st.sampled_from(EventType))
    actor = draw(accounts)
    # MESSAGE_SENT is direct (target) or to a group (group_id); other types are fixed.
    is_message = kind is EventType.MESSAGE_SENT
    direct = draw(st.booleans()) if is_message else kind not in TARGET_FORBIDDEN
    target = draw(accounts.filter(lambda a: a.id != actor.id)) if direct else None
    in_group = kind in GROUP_REQUIRED or (is_message and not direct)
    return Event(
        event_id=draw(ids),
        type=kind,
        ts_ms=draw(timestamps),
        actor=actor,
        target=target,
        group_id=draw(ids) if in_group else None,
        device_hash=draw(st.none() | ids),
        ip_hash=draw(st.none() | ids),
        first_contact=draw(st.none() | st.booleans()),
        has_media=draw(st.none() | st.booleans()),
    )


alerts = st.builds(
    Alert,
    alert_id=ids,
    detector=ids,
    detector_version=ids,
    severity=st.sampled_from(Severity),
    score=st.floats(0, 1),
    subject=st.builds(Subject, kind=st.sampled_from(SubjectKind), id=ids),
    window_start_ms=timestamps,
    window_end_ms=timestamps,
    trigger_ts_ms=timestamps,
    features=st.dictionaries(ids, st.floats(allow_nan=False)),
    counterparts=st.lists(ids, max_size=5).map(tuple),
    minors_exposed=st.integers(0, 2**31 - 1),
    evidence_event_ids=st.lists(ids, max_size=5).map(tuple),
    reason=st.text(),
    emitted_at_ms=timestamps,
    revision=st.integers(1, 1000),
    detectors_on_subject=st.lists(ids, max_size=3).map(tuple),
    counterpart_roles=st.dictionaries(ids, st.sampled_from(["minor_contacted", "deleted_account"])),
)

EXAMPLE = event_from_json(
    json.loads(
        (Path(__file__).parent / "data" / "contract_examples.jsonl").read_text().split("\n")[0]
    )
)
GOOD = encode_event(EXAMPLE)

_ALERT_JSON = {
    "alert_id": "a-1",
    "detector": "new_contact_burst",
    "detector_version": "1",
    "severity": "HIGH",
    "score": 0.9,
    "subject": {"kind": "ACCOUNT", "id": "u-17"},
    "window_start": TS_MIN_MS,
    "window_end": TS_MIN_MS + 1,
    "trigger_ts": TS_MIN_MS + 1,
    "features": {"distinct_minors": 6.0, "threshold": 5.0},
    "counterparts": ["u-903"],
    "minors_exposed": 6,
    "evidence_event_ids": ["e-1"],
    "reason": "Contacted 6 minors in 10 minutes (threshold 5).",
    "emitted_at": TS_MIN_MS + 2,
}
_DEAD_LETTER_ARGS: dict[str, Any] = {
    "reason_code": "self_contact",
    "reason": "target.id: must differ from actor.id",
    "field": "target.id",
    "source_topic": "guardline.events",
    "source_partition": 3,
    "source_offset": 2**40,
    "original_key": b"u-17",
    "original_value": GOOD,
    "failed_at_ms": TS_MIN_MS,
}


def _crc64_avro(data: bytes) -> int:
    """The Avro specification's Rabin fingerprint, written out independently of fastavro."""
    empty = 0xC15D213AA4D7A795
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (empty & -(fp & 1))
        table.append(fp)
    fp = empty
    for byte in data:
        fp = (fp >> 8) ^ table[(fp ^ byte) & 0xFF]
    return fp


@pytest.mark.parametrize("file_name", ["metadata_event.avsc", "alert.avsc", "dead_letter.avsc"])
def test_header_is_marker_then_little_endian_crc64_of_canonical_form(file_name: str) -> None:
    # avro 1.12's canonical form keeps {"type":"long"} for logical types, unlike the spec and
    # Java; without logicalType both libraries agree, and the fingerprint ignores it anyway.
    text = json.dumps(
        codec._without_logical_types(json.loads((SCHEMA_DIR / file_name).read_text()))
    )
    canonical = avro.schema.parse(text).canonical_form.encode()
    expected = MAGIC + _crc64_avro(canonical).to_bytes(8, "little")
    headers = {
        "metadata_event.avsc": GOOD,
        "alert.avsc": encode_alert(alert_from_json(_ALERT_JSON)),
        "dead_letter.avsc": encode_dead_letter(**_DEAD_LETTER_ARGS),
    }
    assert headers[file_name][:10] == expected


def test_released_event_fingerprint_is_pinned() -> None:
    """Released schemas never change: consumers already know this fingerprint."""
    released = json.loads((SCHEMA_DIR / "released/0.1.0/metadata_event.avsc").read_text())
    assert codec.schema_fingerprint(released).hex() == "c8f134fedc36df6b"


@given(events())
def test_event_round_trip(event: Event) -> None:
    assert decode_event(encode_event(event)) == event
    assert event_from_json(event_to_json(event)) == event


@given(alerts)
def test_alert_round_trip(alert: Alert) -> None:
    assert decode_alert(encode_alert(alert)) == alert
    assert alert_from_json(alert_to_json(alert)) == alert


def test_dead_letter_round_trip_keeps_the_exact_bytes() -> None:
    args = _DEAD_LETTER_ARGS
    assert decode_dead_letter(encode_dead_letter(**args)) == DeadLetter(**args)


def test_dead_letter_of_a_tombstone_has_empty_value() -> None:
    data = encode_dead_letter(**{**_DEAD_LETTER_ARGS, "original_key": None, "original_value": None})
    assert decode_dead_letter(data).original_value == b""


def _code(data: bytes | None) -> str:
    with pytest.raises(InvalidEvent) as err:
        decode_event(data)
    return err.value.code


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (None, "undecodable"),
        (b"", "undecodable"),
        (GOOD[:9], "undecodable"),
        (b"{" + GOOD[1:], "undecodable"),
        (MAGIC + bytes(8) + GOOD[10:], "unknown_schema"),
        (GOOD[:-1], "bad_avro"),
        (GOOD + b"\x00", "bad_avro"),
        (GOOD[:10] + b"\x7f" * 20, "bad_avro"),
        (GOOD + bytes(MAX_MESSAGE_BYTES), "oversized"),
    ],
    ids=[
        "none",
        "empty",
        "short",
        "marker",
        "fingerprint",
        "truncated",
        "trailing",
        "garbage",
        "big",
    ],
)
def test_framing_errors(data: bytes | None, code: str) -> None:
    assert _code(data) == code


def test_contract_rules_apply_to_avro_input() -> None:
    """The encoder does not check (so tests can craft bad input); the decoder does."""
    twin = Account(EXAMPLE.actor.id, AgeBand.AGE_13_15)
    selfie = Event("e-x", EventType.MESSAGE_SENT, EXAMPLE.ts_ms, EXAMPLE.actor, target=twin)
    assert _code(encode_event(selfie)) == "self_contact"
    long_id = Event("e" * (MAX_ID_CHARS + 1), EventType.ACCOUNT_CREATED, TS_MIN_MS, EXAMPLE.actor)
    assert _code(encode_event(long_id)) == "oversized"


def _decodes_or_refuses(data: bytes) -> None:
    try:
        decode_event(data)
    except InvalidEvent as err:
        assert err.code in REASON_CODES


@given(st.binary(max_size=200))
def test_random_bytes_never_crash(data: bytes) -> None:
    _decodes_or_refuses(data)


@given(st.binary(max_size=200))
def test_random_body_behind_a_valid_header_never_crashes(body: bytes) -> None:
    _decodes_or_refuses(GOOD[:10] + body)


@given(st.integers(0, len(GOOD) - 1), st.integers(1, 255))
def test_corrupted_message_never_crashes(position: int, flip: int) -> None:
    corrupted = bytearray(GOOD)
    corrupted[position] ^= flip
    _decodes_or_refuses(bytes(corrupted))


def test_every_truncation_is_refused() -> None:
    for end in range(len(GOOD)):
        assert _code(GOOD[:end]) in {"undecodable", "bad_avro"}


def test_alert_decoder_refuses_garbage_with_invalid_event() -> None:
    with pytest.raises(InvalidEvent) as err:
        decode_alert(encode_alert(alert_from_json(_ALERT_JSON))[:-3])
    assert err.value.code == "bad_avro"


def test_old_writer_is_resolved_to_the_current_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the schema evolves, messages written with a released version still decode."""
    released = json.loads((SCHEMA_DIR / "metadata_event.avsc").read_text())
    evolved = json.loads((SCHEMA_DIR / "metadata_event.avsc").read_text())
    evolved["fields"].append({"name": "platform", "type": "string", "default": "web", "doc": "."})
    (tmp_path / "released" / "0.1.0").mkdir(parents=True)
    (tmp_path / "released" / "0.1.0" / "metadata_event.avsc").write_text(json.dumps(released))
    (tmp_path / "metadata_event.avsc").write_text(json.dumps(evolved))
    monkeypatch.setattr(codec, "SCHEMA_DIR", tmp_path)
    loaded = codec._load("metadata_event.avsc")

    old = BytesIO()
    old.write(MAGIC + codec.schema_fingerprint(released))
    schemaless_writer(old, parse_schema(released), {**event_to_json(EXAMPLE), "target": None})
    record = codec._read(loaded, old.getvalue())
    assert record["platform"] == "web"
    assert record["event_id"] == EXAMPLE.event_id


def test_an_alert_written_with_the_released_schema_reads_with_no_roles() -> None:
    """Alerts on the topics from before `counterpart_roles` (0.1.0) still decode: empty roles."""
    released = json.loads((SCHEMA_DIR / "released/0.1.0/alert.avsc").read_text())
    assert "counterpart_roles" not in {f["name"] for f in released["fields"]}
    roles = {"m-1": "minor_contacted"}
    written = alert_from_json({**_ALERT_JSON, "counterparts": ["m-1"], "counterpart_roles": roles})
    alert = decode_alert(encode_alert(written))
    assert alert == written and alert.counterpart_roles == roles
    record = {**alert_to_json(written)}
    record.pop("counterpart_roles")
    old = BytesIO()
    old.write(MAGIC + codec.schema_fingerprint(released))
    schemaless_writer(old, parse_schema(released), record)
    read = decode_alert(old.getvalue())
    assert read.counterpart_roles == {}
    assert dataclasses.replace(read, counterpart_roles=roles) == alert


def test_decision_round_trip_and_a_second_avro_implementation_reads_it() -> None:
    import avro.io

    decision = Decision(
        "d-1", "c-1", "minor_exposure", Subject(SubjectKind.DEVICE, "d-9"), Action.ESCALATE,
        1_795_000_000_000, 1_795_000_100_000, "mod-7", "",
    )  # fmt: skip
    data = encode_decision(decision)
    assert decode_decision(data) == decision
    schema = avro.schema.parse((SCHEMA_DIR / "decision.avsc").read_text())
    record = avro.io.DatumReader(schema).read(avro.io.BinaryDecoder(BytesIO(data[10:])))
    assert (record["action"], record["subject"]["id"]) == ("ESCALATE", "d-9")
