"""JSON Lines <-> `streams.model`, for `produce`, `backtest` and `alerts export`.

JSON is checked as strictly as the Avro schemas: exactly the contract's fields (an unknown one
is refused, so a typo such as `grup_id` is not silently ignored), exact JSON types (`true` is
not an int, `1.5` is not epoch ms), and timestamps as epoch ms or ISO-8601 with a zone, never
naive. Errors are `InvalidEvent`s that name the field by its wire path (`actor.created_ts`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, Final, NoReturn, TypeVar

from streams.model import (
    AGE_BANDS,
    EVENT_TYPES,
    SEVERITIES,
    SUBJECT_KINDS,
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
from streams.validation import InvalidEvent, check_event

_E = TypeVar("_E", bound=StrEnum)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS: Final = timedelta(milliseconds=1)

_ACCOUNT_FIELDS: Final = ("id", "age_band", "created_ts", "anonymous")
_EVENT_FIELDS: Final = (
    "event_id",
    "type",
    "ts",
    "actor",
    "target",
    "group_id",
    "device_hash",
    "ip_hash",
    "first_contact",
    "has_media",
)
_ALERT_FIELDS: Final = (
    "alert_id",
    "detector",
    "detector_version",
    "severity",
    "score",
    "subject",
    "window_start",
    "window_end",
    "trigger_ts",
    "features",
    "counterparts",
    "minors_exposed",
    "evidence_event_ids",
    "reason",
    "emitted_at",
    "revision",
    "detectors_on_subject",
    "counterpart_roles",
)
_SUBJECT_FIELDS: Final = ("kind", "id")
_MEMBERS: Final[dict[type[StrEnum], Mapping[str, StrEnum]]] = {
    EventType: EVENT_TYPES,
    AgeBand: AGE_BANDS,
    Severity: SEVERITIES,
    SubjectKind: SUBJECT_KINDS,
    Action: {m.value: m for m in Action},
}


def _json_type(value: object) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


def _bad_type(field: str, expected: str, value: object) -> NoReturn:
    raise InvalidEvent("bad_type", field, f"expected {expected}, got {_json_type(value)}")


def _object(value: object, field: str | None, allowed: tuple[str, ...]) -> dict[str, Any]:
    """A JSON object holding only contract fields."""
    if not isinstance(value, dict):
        raise InvalidEvent("bad_type", field, f"expected a JSON object, got {_json_type(value)}")
    for key in value:
        if key not in allowed:
            path = f"{field}.{key}" if field else key
            raise InvalidEvent("unknown_field", path, "not a contract field")
    return value


def _required(obj: dict[str, Any], key: str, field: str) -> object:
    value = obj.get(key)
    if value is None:
        raise InvalidEvent("missing_field", field, "required")
    return value


def _str(value: object, field: str) -> str:
    if not isinstance(value, str):
        _bad_type(field, "a string", value)
    return value


def _opt_str(value: object, field: str) -> str | None:
    return None if value is None else _str(value, field)


def _bool(value: object, field: str) -> bool:
    if not isinstance(value, bool):
        _bad_type(field, "true or false", value)
    return value


def _opt_bool(value: object, field: str) -> bool | None:
    return None if value is None else _bool(value, field)


def _int(value: object, field: str) -> int:
    if type(value) is not int:  # bool is an int subclass; a JSON true is not a count
        _bad_type(field, "an integer", value)
    return value


def _float(value: object, field: str) -> float:
    if type(value) is not float and type(value) is not int:
        _bad_type(field, "a number", value)
    return float(value)


def _str_list(value: object, field: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        _bad_type(field, "an array of strings", value)
    return tuple(_str(item, f"{field}[{i}]") for i, item in enumerate(value))


def _enum(value: object, enum: type[_E], field: str) -> _E:
    text = _str(value, field)
    try:
        return _MEMBERS[enum][text]  # type: ignore[return-value]  # a dict: `enum(text)` is slow
    except KeyError:
        symbols = ", ".join(enum)
        raise InvalidEvent("bad_enum", field, f"{text!r} is not one of {symbols}") from None


def _ts(value: object, field: str) -> int:
    """Epoch ms as an int, or ISO-8601 with a zone; sub-millisecond digits are truncated."""
    if type(value) is int:
        return value
    if not isinstance(value, str):
        _bad_type(field, "epoch ms (integer) or an ISO-8601 string with zone", value)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidEvent("bad_type", field, f"{value!r} is not an ISO-8601 timestamp") from None
    if parsed.utcoffset() is None:
        raise InvalidEvent(
            "bad_type", field, f"{value!r} has no zone; add Z or an offset such as +01:00"
        )
    return (parsed - _EPOCH) // _ONE_MS


def _opt_ts(value: object, field: str) -> int | None:
    return None if value is None else _ts(value, field)


def _account(value: object, field: str) -> Account:
    obj = _object(value, field, _ACCOUNT_FIELDS)
    anonymous = obj.get("anonymous")
    return Account(
        id=_str(_required(obj, "id", f"{field}.id"), f"{field}.id"),
        age_band=_enum(
            _required(obj, "age_band", f"{field}.age_band"), AgeBand, f"{field}.age_band"
        ),
        created_ts_ms=_opt_ts(obj.get("created_ts"), f"{field}.created_ts"),
        anonymous=False if anonymous is None else _bool(anonymous, f"{field}.anonymous"),
    )


def event_from_json(obj: object) -> Event:
    """One decoded JSON line to a checked Event; a JSON null counts as an absent field."""
    d = _object(obj, None, _EVENT_FIELDS)
    target = d.get("target")
    return check_event(
        Event(
            event_id=_str(_required(d, "event_id", "event_id"), "event_id"),
            type=_enum(_required(d, "type", "type"), EventType, "type"),
            ts_ms=_ts(_required(d, "ts", "ts"), "ts"),
            actor=_account(_required(d, "actor", "actor"), "actor"),
            target=None if target is None else _account(target, "target"),
            group_id=_opt_str(d.get("group_id"), "group_id"),
            device_hash=_opt_str(d.get("device_hash"), "device_hash"),
            ip_hash=_opt_str(d.get("ip_hash"), "ip_hash"),
            first_contact=_opt_bool(d.get("first_contact"), "first_contact"),
            has_media=_opt_bool(d.get("has_media"), "has_media"),
        )
    )


def _account_to_json(a: Account) -> dict[str, object]:
    out: dict[str, object] = {"id": a.id, "age_band": a.age_band.value}
    if a.created_ts_ms is not None:
        out["created_ts"] = a.created_ts_ms
    out["anonymous"] = a.anonymous
    return out


def event_to_json(ev: Event) -> dict[str, object]:
    """Contract field names, epoch-ms ints; optional fields that are None are left out."""
    out: dict[str, object] = {
        "event_id": ev.event_id,
        "type": ev.type.value,
        "ts": ev.ts_ms,
        "actor": _account_to_json(ev.actor),
    }
    if ev.target is not None:
        out["target"] = _account_to_json(ev.target)
    optional = {
        "group_id": ev.group_id,
        "device_hash": ev.device_hash,
        "ip_hash": ev.ip_hash,
        "first_contact": ev.first_contact,
        "has_media": ev.has_media,
    }
    out.update((k, v) for k, v in optional.items() if v is not None)
    return out


def alert_to_json(a: Alert) -> dict[str, object]:
    return {
        "alert_id": a.alert_id,
        "detector": a.detector,
        "detector_version": a.detector_version,
        "severity": a.severity.value,
        "score": a.score,
        "subject": {"kind": a.subject.kind.value, "id": a.subject.id},
        "window_start": a.window_start_ms,
        "window_end": a.window_end_ms,
        "trigger_ts": a.trigger_ts_ms,
        "features": dict(a.features),
        "counterparts": list(a.counterparts),
        "minors_exposed": a.minors_exposed,
        "evidence_event_ids": list(a.evidence_event_ids),
        "reason": a.reason,
        "emitted_at": a.emitted_at_ms,
        "revision": a.revision,
        "detectors_on_subject": list(a.detectors_on_subject),
        "counterpart_roles": dict(a.counterpart_roles),
    }


def alert_from_json(obj: object) -> Alert:
    """Read back an exported alert; `revision` and `detectors_on_subject` may be absent (0.1.0),
    and `counterpart_roles` (before 0.2.0)."""
    d = _object(obj, None, _ALERT_FIELDS)

    def req(key: str) -> object:
        return _required(d, key, key)

    subject = _object(req("subject"), "subject", _SUBJECT_FIELDS)
    features = req("features")
    if not isinstance(features, dict):
        _bad_type("features", "an object of numbers", features)
    revision = d.get("revision")
    on_subject = d.get("detectors_on_subject")
    roles = d.get("counterpart_roles", {})
    if not isinstance(roles, dict):
        _bad_type("counterpart_roles", "an object of strings", roles)
    return Alert(
        alert_id=_str(req("alert_id"), "alert_id"),
        detector=_str(req("detector"), "detector"),
        detector_version=_str(req("detector_version"), "detector_version"),
        severity=_enum(req("severity"), Severity, "severity"),
        score=_float(req("score"), "score"),
        subject=Subject(
            kind=_enum(_required(subject, "kind", "subject.kind"), SubjectKind, "subject.kind"),
            id=_str(_required(subject, "id", "subject.id"), "subject.id"),
        ),
        window_start_ms=_int(req("window_start"), "window_start"),
        window_end_ms=_int(req("window_end"), "window_end"),
        trigger_ts_ms=_int(req("trigger_ts"), "trigger_ts"),
        features={k: _float(v, f"features.{k}") for k, v in features.items()},
        counterparts=_str_list(req("counterparts"), "counterparts"),
        minors_exposed=_int(req("minors_exposed"), "minors_exposed"),
        evidence_event_ids=_str_list(req("evidence_event_ids"), "evidence_event_ids"),
        reason=_str(req("reason"), "reason"),
        emitted_at_ms=_int(req("emitted_at"), "emitted_at"),
        revision=1 if revision is None else _int(revision, "revision"),
        detectors_on_subject=(
            () if on_subject is None else _str_list(on_subject, "detectors_on_subject")
        ),
        counterpart_roles={k: _str(v, f"counterpart_roles.{k}") for k, v in roles.items()},
    )


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not valid JSON")


# One decoder for every line: `json.loads` with an option builds a new decoder per call.
_DECODER: Final = json.JSONDecoder(parse_constant=_reject_constant)


def read_events(path: str | Path) -> Iterator[tuple[int, Event | InvalidEvent]]:
    """Yield (line number from 1, event or the reason it was refused); blank lines are skipped.

    Errors are yielded, not raised, so the caller reports every bad line and drops none.
    """
    with Path(path).open("rb") as lines:
        for number, raw in enumerate(lines, start=1):
            if raw.strip():
                yield number, event_from_line(raw)


def event_from_line(raw: bytes) -> Event | InvalidEvent:
    """One non-blank line: the checked event, or why it was refused (bad JSON included)."""
    try:
        obj = _DECODER.decode(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return InvalidEvent("bad_json", None, f"not UTF-8 at byte {exc.start}")
    except (ValueError, RecursionError) as exc:
        return InvalidEvent("bad_json", None, f"invalid JSON: {exc}")
    try:
        return event_from_json(obj)
    except InvalidEvent as exc:
        return exc


def write_jsonl(path: str | Path, records: Iterable[Mapping[str, object]]) -> int:
    """Write one compact JSON object per line (NaN refused: it is not JSON); return the count."""
    count = 0
    with Path(path).open("w", encoding="utf-8") as out:
        for record in records:
            out.write(json_line(record))
            count += 1
    return count


def decision_to_json(d: Decision) -> dict[str, object]:
    """A decision as JSON, with the Avro schema's field names (a decisions file's lines)."""
    return {
        "decision_id": d.decision_id,
        "alert_id": d.alert_id,
        "detector": d.detector,
        "subject": {"kind": d.subject.kind.value, "id": d.subject.id},
        "action": d.action.value,
        "effective_ts": d.effective_ts_ms,
        "decided_at": d.decided_at_ms,
        "moderator": d.moderator,
        "note": d.note,
    }


def read_decisions(path: str | Path) -> list[Decision]:
    """A decisions file (JSON Lines, `decision_to_json`); a bad line raises InvalidEvent
    naming its line number."""
    out: list[Decision] = []
    with Path(path).open(encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                d = _object(json.loads(line), None, _DECISION_FIELDS)
                subject = _object(_required(d, "subject", "subject"), "subject", _SUBJECT_FIELDS)
                out.append(
                    Decision(
                        decision_id=_str(_required(d, "decision_id", "decision_id"), "decision_id"),
                        alert_id=_str(_required(d, "alert_id", "alert_id"), "alert_id"),
                        detector=_str(_required(d, "detector", "detector"), "detector"),
                        subject=Subject(
                            _enum(
                                _required(subject, "kind", "subject.kind"),
                                SubjectKind,
                                "subject.kind",
                            ),
                            _str(_required(subject, "id", "subject.id"), "subject.id"),
                        ),
                        action=_enum(_required(d, "action", "action"), Action, "action"),
                        effective_ts_ms=_int(
                            _required(d, "effective_ts", "effective_ts"), "effective_ts"
                        ),
                        decided_at_ms=_int(_required(d, "decided_at", "decided_at"), "decided_at"),
                        moderator=_str(d.get("moderator", ""), "moderator"),
                        note=_str(d.get("note", ""), "note"),
                    )
                )
            except json.JSONDecodeError as exc:
                raise InvalidEvent("bad_json", None, f"{path}:{line_no}: {exc}") from exc
            except InvalidEvent as exc:
                raise InvalidEvent(exc.code, exc.field, f"{path}:{line_no}: {exc}") from exc
    return out


_DECISION_FIELDS = (
    "decision_id", "alert_id", "detector", "subject", "action", "effective_ts", "decided_at",
    "moderator", "note",
)  # fmt: skip


def json_line(record: Mapping[str, object]) -> str:
    """One record as `write_jsonl` writes it, newline included."""
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False, allow_nan=False) + "\n"
