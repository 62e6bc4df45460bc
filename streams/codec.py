"""Avro single-object encoding for events, alerts and dead letters (the Kafka wire format).

A message is the marker C3 01, the 8-byte CRC-64-AVRO fingerprint of the writer schema's
parsing canonical form (little-endian, exactly as `fastavro.schema.fingerprint` prints it),
then the Avro binary body. Any Avro implementation can decode it without a registry, and a
reader knows which schema wrote it: messages written with a released schema (`schemas/released/`)
are resolved to the current one.

With a schema registry configured, writers pass a Confluent header (`00` + schema id, see
`streams/wire.py`) instead, and readers given a `SchemaResolver` accept that framing too: the
writer schema is fetched by id once, then resolved to the current one like a released schema.

Speed: schemas are parsed once at import with their `logicalType` removed, so timestamps stay
integer epoch ms end to end (the fingerprint does not change: canonical form drops logicalType).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any, Final, Protocol, cast

from fastavro import parse_schema, schemaless_reader, schemaless_writer
from fastavro.schema import fingerprint, to_parsing_canonical_form

from streams.event_reader import FINGERPRINT, read_event
from streams.model import (
    AGE_BANDS,
    EVENT_TYPES,
    SEVERITIES,
    SUBJECT_KINDS,
    Account,
    Action,
    Alert,
    Decision,
    Event,
    Subject,
)
from streams.validation import MAX_MESSAGE_BYTES, InvalidEvent, check_event
from streams.wire import CONFLUENT_HEADER_LEN, Framing, confluent_schema_id, framing_of

# `schemas/` at the repo root is the one source; `streams/schemas` links to it, and a build
# (wheel or sdist) copies the files into the package, so an installed copy carries its own.
SCHEMA_DIR: Final = Path(__file__).resolve().parent / "schemas"
MAGIC: Final = b"\xc3\x01"
HEADER_LEN: Final = len(MAGIC) + 8

_ParsedSchema = dict[str, Any]


class RegistryUnavailable(Exception):
    """The schema registry could not be asked right now (not the message's fault)."""


class SchemaResolver(Protocol):
    """Writer schemas by registry id (`streams.registry.SchemaRegistry` is one)."""

    def schema_text(self, schema_id: int) -> str:
        """The schema JSON; LookupError if unknown, RegistryUnavailable if unreachable."""
        ...


def _without_logical_types(node: Any) -> Any:
    """Drop `logicalType` so fastavro reads and writes plain ints instead of datetimes."""
    if isinstance(node, dict):
        return {k: _without_logical_types(v) for k, v in node.items() if k != "logicalType"}
    if isinstance(node, list):
        return [_without_logical_types(v) for v in node]
    return node


def schema_fingerprint(schema: Mapping[str, Any]) -> bytes:
    """CRC-64-AVRO of the parsing canonical form, in single-object (little-endian) byte order."""
    canonical = to_parsing_canonical_form(parse_schema(dict(schema)))
    return bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO"))


@dataclass(frozen=True, slots=True)
class _Codec:
    """One record type: how to write it now, and how to read every version we ever released."""

    header: bytes
    schema: _ParsedSchema
    # fingerprint -> (writer schema, reader schema or None when the writer is the current one)
    readers: dict[bytes, tuple[_ParsedSchema, _ParsedSchema | None]]
    # registry schema text -> the same pair, filled as Confluent-framed messages arrive
    by_text: dict[str, tuple[_ParsedSchema, _ParsedSchema | None]]


def _parse_text(text: str) -> _ParsedSchema:
    parsed = parse_schema(_without_logical_types(json.loads(text)))
    if not isinstance(parsed, dict):
        raise ValueError("the top-level schema must be a record")
    return parsed


def _parse(path: Path) -> _ParsedSchema:
    try:
        return _parse_text(path.read_text())
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc


def _load(file_name: str) -> _Codec:
    current = _parse(SCHEMA_DIR / file_name)
    current_fp = schema_fingerprint(current)
    readers: dict[bytes, tuple[_ParsedSchema, _ParsedSchema | None]] = {current_fp: (current, None)}
    for path in sorted(SCHEMA_DIR.glob(f"released/*/{file_name}")):
        old = _parse(path)
        readers.setdefault(schema_fingerprint(old), (old, current))
    return _Codec(MAGIC + current_fp, current, readers, {})


_EVENT: Final = _load("metadata_event.avsc")
_ALERT: Final = _load("alert.avsc")
_DEAD_LETTER: Final = _load("dead_letter.avsc")
_DECISION: Final = _load("decision.avsc")
_ACCOUNT_NAME: Final = "org.guardline.Account"
# The fast event reader follows one schema; any other current schema falls back to fastavro.
_FAST_HEADER: Final = _EVENT.header if _EVENT.header == MAGIC + FINGERPRINT else None


def _write(codec: _Codec, record: dict[str, Any], header: bytes | None = None) -> bytes:
    buf = BytesIO()
    buf.write(codec.header if header is None else header)
    schemaless_writer(buf, codec.schema, record)
    return buf.getvalue()


def _read(
    codec: _Codec,
    data: bytes | None,
    resolver: SchemaResolver | None = None,
    *,
    exact: bool = False,
) -> dict[str, Any]:
    """Frame check and Avro decode; any failure becomes an InvalidEvent, never another error.

    `exact`: a body in the current schema must be the encoding of the values read. fastavro
    reads an enum index of -1 as the last symbol (Python indexing) and any boolean byte but 0
    as true, so an event of type index -1 would be taken as REPORTED (found by the hostile
    corpus, tests/hostile_corpus.py). For records without maps or arrays, whose Avro encoding
    is unique (minimal varints, as every Avro writer makes them), writing the values again
    gives the same bytes exactly when they were valid.
    """
    if data is not None and len(data) >= HEADER_LEN and data[:2] == MAGIC:  # the common case
        fp = bytes(data[2:HEADER_LEN])
        found = codec.readers.get(fp)
        if found is None:
            raise InvalidEvent("unknown_schema", None, f"unknown schema fingerprint {fp.hex()}")
        schemas, start = found, HEADER_LEN
    elif data is not None and framing_of(data) is Framing.CONFLUENT:
        schemas, start = _confluent_schemas(codec, data, resolver), CONFLUENT_HEADER_LEN
    else:
        raise InvalidEvent(
            "undecodable",
            None,
            "neither Avro single-object (C3 01 + fingerprint) nor Confluent (00 + schema id)",
        )
    buf = BytesIO(data)
    buf.seek(start)
    try:
        record = cast(dict[str, Any], schemaless_reader(buf, *schemas))
    except Exception as exc:  # fastavro raises EOF/Value/Index/Unicode/... errors on garbage
        detail = f"{type(exc).__name__}: {exc}"[:200]  # bounded: it lands in a dead letter
        raise InvalidEvent("bad_avro", None, f"malformed Avro body ({detail})") from exc
    if buf.tell() != len(data):
        raise InvalidEvent("bad_avro", None, f"{len(data) - buf.tell()} bytes after the record")
    if exact and schemas[1] is None:
        again = BytesIO()
        schemaless_writer(again, schemas[0], record)
        if again.getvalue() != data[start:]:
            raise InvalidEvent(
                "bad_avro", None, "an enum index or boolean byte outside the Avro encoding"
            )
    return record


def _confluent_schemas(
    codec: _Codec, data: bytes, resolver: SchemaResolver | None
) -> tuple[_ParsedSchema, _ParsedSchema | None]:
    """(writer, reader) for a Confluent-framed message: the registry's schema for its id."""
    schema_id = confluent_schema_id(data)
    if resolver is None:
        raise InvalidEvent(
            "unknown_schema",
            None,
            f"Confluent-framed message (schema id {schema_id}) but no schema registry is "
            "configured (--schema-registry or GUARDLINE_SCHEMA_REGISTRY_URL)",
        )
    try:
        text = resolver.schema_text(schema_id)
    except LookupError as exc:
        raise InvalidEvent("unknown_schema", None, f"schema id {schema_id}: {exc}") from exc
    except RegistryUnavailable as exc:
        raise InvalidEvent("registry_unavailable", None, f"schema id {schema_id}: {exc}") from exc
    found = codec.by_text.get(text)
    if found is None:
        try:
            writer = _parse_text(text)
        except Exception as exc:  # the registry holds something fastavro cannot parse
            raise InvalidEvent(
                "unknown_schema", None, f"schema id {schema_id} is not a usable Avro record"
            ) from exc
        fp = schema_fingerprint(writer)
        found = codec.readers.get(fp) or (writer, codec.schema)
        codec.by_text[text] = found
    return found


def _account_record(a: Account) -> dict[str, Any]:
    return {
        "id": a.id,
        "age_band": a.age_band,
        "created_ts": a.created_ts_ms,
        "anonymous": a.anonymous,
    }


def _account(r: dict[str, Any]) -> Account:
    return Account(r["id"], AGE_BANDS[r["age_band"]], r["created_ts"], r["anonymous"])


def encode_event(ev: Event, header: bytes | None = None) -> bytes:
    """Encode without contract checks, so tests can also produce events the reader refuses.

    `header` replaces the single-object header (a Confluent `00` + schema id, for one).
    """
    target = ev.target
    return _write(
        _EVENT,
        {
            "event_id": ev.event_id,
            "type": ev.type,
            "ts": ev.ts_ms,
            "actor": _account_record(ev.actor),
            # Tuple notation names the union branch: fastavro then skips branch matching.
            "target": None if target is None else (_ACCOUNT_NAME, _account_record(target)),
            "group_id": ev.group_id,
            "device_hash": ev.device_hash,
            "ip_hash": ev.ip_hash,
            "first_contact": ev.first_contact,
            "has_media": ev.has_media,
        },
        header,
    )


def decode_event(data: bytes | None, resolver: SchemaResolver | None = None) -> Event:
    """Decode and validate one input message; raises only InvalidEvent (None: a tombstone).

    Either framing; a Confluent-framed message needs `resolver` for its schema id."""
    if data is not None and len(data) > MAX_MESSAGE_BYTES:
        raise InvalidEvent("oversized", None, f"message of {len(data)} bytes")
    if _FAST_HEADER is not None and data is not None and data[:HEADER_LEN] == _FAST_HEADER:
        # Written with the current schema: straight into an Event (`event_reader.py`). On
        # anything it leaves (malformed bytes, rare encodings), fastavro below decides.
        try:
            event, end = read_event(data, HEADER_LEN)
        except Exception:  # fastavro reads it again below and gives the verdict
            pass
        else:
            if end == len(data):
                return check_event(event)
    return check_event(_event(_read(_EVENT, data, resolver, exact=True)))


def _event(r: dict[str, Any]) -> Event:
    target = r["target"]
    return Event(
        r["event_id"],
        EVENT_TYPES[r["type"]],
        r["ts"],
        _account(r["actor"]),
        None if target is None else _account(target),
        r["group_id"],
        r["device_hash"],
        r["ip_hash"],
        r["first_contact"],
        r["has_media"],
    )


def encode_alert(a: Alert, header: bytes | None = None) -> bytes:
    """Single-object encoding, or `header` (a Confluent one) in front of the same body."""
    return _write(
        _ALERT,
        {
            "alert_id": a.alert_id,
            "detector": a.detector,
            "detector_version": a.detector_version,
            "severity": a.severity,
            "score": a.score,
            "subject": {"kind": a.subject.kind, "id": a.subject.id},
            "window_start": a.window_start_ms,
            "window_end": a.window_end_ms,
            "trigger_ts": a.trigger_ts_ms,
            "features": a.features,
            "counterparts": a.counterparts,
            "minors_exposed": a.minors_exposed,
            "evidence_event_ids": a.evidence_event_ids,
            "reason": a.reason,
            "emitted_at": a.emitted_at_ms,
            "revision": a.revision,
            "detectors_on_subject": a.detectors_on_subject,
            "counterpart_roles": a.counterpart_roles,
        },
        header,
    )


def decode_alert(data: bytes | None, resolver: SchemaResolver | None = None) -> Alert:
    """Decode one alert message (either framing); malformed bytes raise InvalidEvent."""
    r = _read(_ALERT, data, resolver)
    subject = r["subject"]
    return Alert(
        alert_id=r["alert_id"],
        detector=r["detector"],
        detector_version=r["detector_version"],
        severity=SEVERITIES[r["severity"]],
        score=r["score"],
        subject=Subject(SUBJECT_KINDS[subject["kind"]], subject["id"]),
        window_start_ms=r["window_start"],
        window_end_ms=r["window_end"],
        trigger_ts_ms=r["trigger_ts"],
        features=r["features"],
        counterparts=tuple(r["counterparts"]),
        minors_exposed=r["minors_exposed"],
        evidence_event_ids=tuple(r["evidence_event_ids"]),
        reason=r["reason"],
        emitted_at_ms=r["emitted_at"],
        revision=r["revision"],
        detectors_on_subject=tuple(r["detectors_on_subject"]),
        counterpart_roles=r["counterpart_roles"],
    )


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A refused input message with its reason and exact original bytes (dead_letter.avsc)."""

    reason_code: str
    reason: str
    field: str | None
    source_topic: str
    source_partition: int
    source_offset: int
    original_key: bytes | None
    original_value: bytes
    failed_at_ms: int


def encode_dead_letter(
    *,
    reason_code: str,
    reason: str,
    field: str | None,
    source_topic: str,
    source_partition: int,
    source_offset: int,
    original_key: bytes | None,
    original_value: bytes | None,
    failed_at_ms: int,
    header: bytes | None = None,
) -> bytes:
    """Keyword-only, so the worker cannot swap two ints; a tombstone value is kept as b""."""
    return _write(
        _DEAD_LETTER,
        {
            "reason_code": reason_code,
            "reason": reason,
            "field": field,
            "source_topic": source_topic,
            "source_partition": source_partition,
            "source_offset": source_offset,
            "original_key": original_key,
            "original_value": original_value or b"",
            "failed_at": failed_at_ms,
        },
        header,
    )


def decode_dead_letter(data: bytes | None, resolver: SchemaResolver | None = None) -> DeadLetter:
    r = _read(_DEAD_LETTER, data, resolver)
    return DeadLetter(
        r["reason_code"],
        r["reason"],
        r["field"],
        r["source_topic"],
        r["source_partition"],
        r["source_offset"],
        r["original_key"],
        r["original_value"],
        r["failed_at"],
    )


def encode_decision(d: Decision) -> bytes:
    return _write(
        _DECISION,
        {
            "decision_id": d.decision_id,
            "alert_id": d.alert_id,
            "detector": d.detector,
            "subject": {"kind": d.subject.kind, "id": d.subject.id},
            "action": d.action,
            "effective_ts": d.effective_ts_ms,
            "decided_at": d.decided_at_ms,
            "moderator": d.moderator,
            "note": d.note,
        },
    )


def decode_decision(data: bytes | None, resolver: SchemaResolver | None = None) -> Decision:
    """Decode one decision message; malformed bytes raise InvalidEvent."""
    r = _read(_DECISION, data, resolver)
    subject = r["subject"]
    return Decision(
        decision_id=r["decision_id"],
        alert_id=r["alert_id"],
        detector=r["detector"],
        subject=Subject(SUBJECT_KINDS[subject["kind"]], subject["id"]),
        action=Action(r["action"]),
        effective_ts_ms=r["effective_ts"],
        decided_at_ms=r["decided_at"],
        moderator=r["moderator"],
        note=r["note"],
    )
