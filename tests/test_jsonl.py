"""JSON Lines input: timestamps, per-type fields, and error messages that name the field."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from streams.jsonl import alert_from_json, event_from_json, event_to_json, read_events, write_jsonl
from streams.model import EventType
from streams.validation import InvalidEvent

BASE: dict[str, Any] = {
    "event_id": "e-1",
    "type": "CONTACT_ADDED",
    "ts": 1763805600000,
    "actor": {"id": "u-17", "age_band": "AGE_21_PLUS"},
    "target": {"id": "u-903", "age_band": "AGE_13_15"},
}


def _with(**changes: Any) -> dict[str, Any]:
    """BASE with top-level changes; a value of ... removes the field."""
    obj = copy.deepcopy(BASE)
    for key, value in changes.items():
        if value is ...:
            del obj[key]
        else:
            obj[key] = value
    return obj


def _refusal(obj: object) -> InvalidEvent:
    with pytest.raises(InvalidEvent) as err:
        event_from_json(obj)
    return err.value


@pytest.mark.parametrize(
    ("ts", "ms"),
    [
        (1763805600000, 1763805600000),
        ("2025-11-22T10:00:00Z", 1763805600000),
        ("2025-11-22T11:00:00+01:00", 1763805600000),
        ("2025-11-22T10:00:00.123999+00:00", 1763805600123),
    ],
)
def test_timestamp_forms(ts: object, ms: int) -> None:
    assert event_from_json(_with(ts=ts)).ts_ms == ms


# Golden error texts: what a user sees for a bad line (after "file:line: ").
REFUSALS = [
    (["x"], "bad_type", None, "expected a JSON object, got array"),
    (_with(event_id=...), "missing_field", "event_id", "event_id: required"),
    (_with(event_id=""), "empty_id", "event_id", "event_id: must not be empty"),
    (_with(event_id=7), "bad_type", "event_id", "event_id: expected a string, got number"),
    (_with(grup_id="g-1"), "unknown_field", "grup_id", "grup_id: not a contract field"),
    (
        _with(type="MESSAGE_SEND"),
        "bad_enum",
        "type",
        "type: 'MESSAGE_SEND' is not one of ACCOUNT_CREATED, ACCOUNT_DELETED, CONTACT_ADDED, "
        "MESSAGE_SENT, GROUP_MEMBER_ADDED, GROUP_JOINED, BLOCKED, REPORTED",
    ),
    (
        _with(ts="2025-11-22T10:00:00"),
        "bad_type",
        "ts",
        "ts: '2025-11-22T10:00:00' has no zone; add Z or an offset such as +01:00",
    ),
    (
        _with(ts=1763805600000.0),
        "bad_type",
        "ts",
        "ts: expected epoch ms (integer) or an ISO-8601 string with zone, got number",
    ),
    (
        _with(ts=True),
        "bad_type",
        "ts",
        "ts: expected epoch ms (integer) or an ISO-8601 string with zone, got boolean",
    ),
    (_with(ts="yesterday"), "bad_type", "ts", "ts: 'yesterday' is not an ISO-8601 timestamp"),
    (
        _with(ts=1763805600),
        "ts_out_of_range",
        "ts",
        "ts: 1763805600 ms is outside [2000-01-01T00:00Z, 2100-01-01T00:00Z)",
    ),
    (
        _with(ts="0001-01-01T00:00:00+01:00"),
        "ts_out_of_range",
        "ts",
        "ts: -62135600400000 ms is outside [2000-01-01T00:00Z, 2100-01-01T00:00Z)",
    ),
    (
        _with(actor={"id": "u-17", "age_band": "ADULT"}),
        "bad_enum",
        "actor.age_band",
        "actor.age_band: 'ADULT' is not one of UNDER_13, AGE_13_15, AGE_16_17, AGE_18_20, "
        "AGE_21_PLUS, UNKNOWN",
    ),
    (
        _with(actor={"id": "u-17", "age_band": "UNKNOWN", "anonymous": 1}),
        "bad_type",
        "actor.anonymous",
        "actor.anonymous: expected true or false, got number",
    ),
    (
        _with(actor={"id": "u-17", "age_band": "UNKNOWN", "created_ts": "2025-01-01"}),
        "bad_type",
        "actor.created_ts",
        "actor.created_ts: '2025-01-01' has no zone; add Z or an offset such as +01:00",
    ),
    (
        _with(actor={"id": "u-17", "age": 15, "age_band": "UNKNOWN"}),
        "unknown_field",
        "actor.age",
        "actor.age: not a contract field",
    ),
    (
        _with(target={"id": "u-17", "age_band": "UNKNOWN"}),
        "self_contact",
        "target.id",
        "target.id: must differ from actor.id",
    ),
    (_with(target=...), "missing_field", "target", "target: required for CONTACT_ADDED"),
    (
        _with(group_id="g-1"),
        "contract_violation",
        "group_id",
        "group_id: not allowed for CONTACT_ADDED",
    ),
    (
        _with(type="GROUP_JOINED"),
        "contract_violation",
        "target",
        "target: not allowed for GROUP_JOINED",
    ),
    (
        _with(type="GROUP_MEMBER_ADDED"),
        "missing_field",
        "group_id",
        "group_id: required for GROUP_MEMBER_ADDED",
    ),
    (
        _with(type="MESSAGE_SENT", group_id="g-1"),
        "contract_violation",
        "target",
        "target: MESSAGE_SENT needs exactly one of target (direct) and group_id (group)",
    ),
    (
        _with(type="MESSAGE_SENT", target=...),
        "contract_violation",
        "target",
        "target: MESSAGE_SENT needs exactly one of target (direct) and group_id (group)",
    ),
    (
        _with(device_hash="d" * 257),
        "oversized",
        "device_hash",
        "device_hash: 257 chars, at most 256",
    ),
]


@pytest.mark.parametrize(("obj", "code", "field", "message"), REFUSALS)
def test_refusals_name_the_field(obj: object, code: str, field: str | None, message: str) -> None:
    err = _refusal(obj)
    assert (err.code, err.field, str(err)) == (code, field, message)


@pytest.mark.parametrize("kind", list(EventType))
def test_each_type_accepts_exactly_its_fields(kind: EventType) -> None:
    """Every type has one accepted shape in the examples; here: the minimal one for it."""
    needs_target = kind not in {"ACCOUNT_CREATED", "ACCOUNT_DELETED", "GROUP_JOINED"}
    needs_group = kind in {"GROUP_MEMBER_ADDED", "GROUP_JOINED"}
    obj = _with(type=kind.value, target=BASE["target"] if needs_target else ...)
    if needs_group:
        obj["group_id"] = "g-1"
    assert event_from_json(obj).type is kind


def test_null_optional_fields_count_as_absent() -> None:
    event = event_from_json(_with(device_hash=None, first_contact=None))
    assert event.device_hash is None and event.first_contact is None


def test_event_to_json_leaves_out_none_and_uses_epoch_ms() -> None:
    event = event_from_json(_with(ts="2025-11-22T10:00:00Z"))
    assert event_to_json(event) == {
        **BASE,
        "actor": {**BASE["actor"], "anonymous": False},
        "target": {**BASE["target"], "anonymous": False},
    }


def test_read_events_reports_every_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    lines = [json.dumps(BASE).encode(), b"", b"{not json", b"\xff\xfe", b'{"ts": NaN}', b"  "]
    lines.append(json.dumps(_with(event_id="")).encode())
    path.write_bytes(b"\n".join(lines) + b"\n")
    results = [(n, r.code if isinstance(r, InvalidEvent) else "ok") for n, r in read_events(path)]
    assert results == [
        (1, "ok"),
        (3, "bad_json"),
        (4, "bad_json"),
        (5, "bad_json"),
        (7, "empty_id"),
    ]


def test_write_then_read_round_trip(tmp_path: Path) -> None:
    event = event_from_json(BASE)
    path = tmp_path / "out.jsonl"
    assert write_jsonl(path, [event_to_json(event)] * 2) == 2
    assert path.read_text().startswith('{"event_id":"e-1","type":"CONTACT_ADDED",')
    assert [r for _, r in read_events(path)] == [event, event]


def test_write_refuses_nan(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_jsonl(tmp_path / "x.jsonl", [{"score": float("nan")}])


def test_alert_without_case_fields_reads_as_first_revision() -> None:
    alert = alert_from_json(
        {
            "alert_id": "a-1",
            "detector": "minor_mass_add",
            "detector_version": "1",
            "severity": "CRITICAL",
            "score": 1,
            "subject": {"kind": "GROUP", "id": "g-1"},
            "window_start": 1,
            "window_end": 2,
            "trigger_ts": 2,
            "features": {"added": 12},
            "counterparts": [],
            "minors_exposed": 12,
            "evidence_event_ids": ["e-1"],
            "reason": "Added 12 minors to a group in 5 minutes.",
            "emitted_at": 3,
        }
    )
    assert (alert.revision, alert.detectors_on_subject, alert.score) == (1, (), 1.0)
    assert alert.features == {"added": 12.0}
