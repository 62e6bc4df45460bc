"""A seeded corpus of hostile input messages, each breaking exactly one contract rule.

Every message starts as a valid event, built from CONTRACT.md's table (not from
`streams.model`), written by an Avro writer of our own (`tests/avro_writer.py`), then gets
exactly one fault. The expected reason code and field come from the fault that was applied,
never from the decoder: if a rule in `streams/validation.py` or `streams/codec.py` stopped
refusing something, its messages would decode (or get another code) and the tests fail.

`RULES` names every rule; `build_corpus` gives each `per_rule` distinct messages (fewer for
the 64 KiB ones). Confluent-framed messages carry registry ids that `CorpusRegistry` answers:
with it, they are judged by their body; a worker without a registry refuses each of them as
`unknown_schema` (`Hostile.expected`).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from fastavro import parse_schema
from fastavro.schema import fingerprint, to_parsing_canonical_form

from streams.codec import SCHEMA_DIR, RegistryUnavailable
from tests.avro_writer import AGE_BANDS, EVENT_TYPES, Raw, event_body, long

# The limits the contract documents (REASON_CODES in streams/validation.py names them).
MAX_ID_CHARS: Final = 256
MAX_MESSAGE_BYTES: Final = 64 * 1024
TS_MIN_MS: Final = int(datetime(2000, 1, 1, tzinfo=UTC).timestamp() * 1000)  # inclusive
TS_MAX_MS: Final = int(datetime(2100, 1, 1, tzinfo=UTC).timestamp() * 1000)  # exclusive
LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1

# CONTRACT.md, "Event types and the fields they need": (target, group_id) per type, where
# "yes" is required, "no" forbidden, and MESSAGE_SENT takes exactly one of the two.
NEEDS: Final = {
    "ACCOUNT_CREATED": ("no", "no"), "ACCOUNT_DELETED": ("no", "no"),
    "CONTACT_ADDED": ("yes", "no"), "MESSAGE_SENT": ("one", "one"),
    "GROUP_MEMBER_ADDED": ("yes", "yes"), "GROUP_JOINED": ("no", "yes"),
    "BLOCKED": ("yes", "no"), "REPORTED": ("yes", "no"),
}  # fmt: skip
WITH_TARGET: Final = [t for t, (tg, _) in NEEDS.items() if tg == "yes"]
WITHOUT_TARGET: Final = [t for t, (tg, _) in NEEDS.items() if tg == "no"]
WITH_GROUP: Final = [t for t, (_, g) in NEEDS.items() if g == "yes"]
WITHOUT_GROUP: Final = [t for t, (_, g) in NEEDS.items() if g == "no"]
ID_FIELDS: Final = ("event_id", "actor.id", "target.id", "group_id", "device_hash", "ip_hash")
TS_FIELDS: Final = ("ts", "actor.created_ts", "target.created_ts")


def _fingerprint(file_name: str) -> bytes:
    schema = parse_schema(json.loads((SCHEMA_DIR / file_name).read_text()))
    return bytes.fromhex(fingerprint(to_parsing_canonical_form(schema), "CRC-64-AVRO"))


EVENT_SCHEMA_TEXT: Final = (SCHEMA_DIR / "metadata_event.avsc").read_text()
SINGLE_OBJECT: Final = b"\xc3\x01" + _fingerprint("metadata_event.avsc")
KNOWN_FINGERPRINTS: Final = {
    _fingerprint("metadata_event.avsc"),
    *(_fingerprint(str(p.relative_to(SCHEMA_DIR))) for p in SCHEMA_DIR.glob("released/*/*.avsc")),
}
FOREIGN_HEADERS: Final = [
    b"\xc3\x01" + _fingerprint(name) for name in ("alert.avsc", "dead_letter.avsc")
]

# Registry ids as `CorpusRegistry` answers them.
EVENT_SCHEMA_ID: Final = 1
UNUSABLE_SCHEMA_ID: Final = 2  # a schema, but not a record
DOWN_IDS: Final = range(1000, 2000)  # the registry cannot be reached for these
UNKNOWN_IDS: Final = range(5000, 1 << 31)


class CorpusRegistry:
    """A `SchemaResolver` for the corpus's Confluent-framed messages."""

    def schema_text(self, schema_id: int) -> str:
        if schema_id == EVENT_SCHEMA_ID:
            return EVENT_SCHEMA_TEXT
        if schema_id == UNUSABLE_SCHEMA_ID:
            return '"string"'
        if schema_id in DOWN_IDS:
            raise RegistryUnavailable("connection refused")
        raise LookupError(f"schema {schema_id} not found")


def confluent(schema_id: int) -> bytes:
    return b"\x00" + schema_id.to_bytes(4, "big")


@dataclass(frozen=True, slots=True)
class Hostile:
    """One message, the rule it breaks and the verdict that rule gives."""

    rule: str
    code: str
    field: str | None
    key: bytes | None
    value: bytes | None
    confluent: bool = False

    def expected(self, *, registry: bool) -> tuple[str, str | None]:
        """(reason code, field); without a registry every Confluent frame is unknown_schema."""
        if self.confluent and not registry:
            return "unknown_schema", None
        return self.code, self.field


# -- valid events, by the contract ------------------------------------------------------

_CHARS: Final = "abcdefghijklmnopqrstuvwxyz0123456789-_.:ÄéßçØ中文ж🙂"


def _text(rng: random.Random, low: int = 1, high: int = 20) -> str:
    return "".join(rng.choice(_CHARS) for _ in range(rng.randint(low, high)))


def _valid_ts(rng: random.Random) -> int:
    roll = rng.random()
    if roll < 0.02:
        return TS_MIN_MS
    if roll < 0.04:
        return TS_MAX_MS - 1
    return rng.randrange(TS_MIN_MS, TS_MAX_MS)


def _account(rng: random.Random, prefix: str) -> dict[str, Any]:
    return {
        "id": prefix + _text(rng),
        "age_band": rng.choice(AGE_BANDS),
        "created_ts": _valid_ts(rng) if rng.random() < 0.5 else None,
        "anonymous": rng.random() < 0.5,
    }


def valid_event(rng: random.Random, kind: str | None = None) -> dict[str, Any]:
    """A random event that keeps every rule of the contract, as a JSON-like dict."""
    kind = kind or rng.choice(EVENT_TYPES)
    target, group = NEEDS[kind]
    if kind == "MESSAGE_SENT":
        target, group = ("yes", "no") if rng.random() < 0.5 else ("no", "yes")
    ev: dict[str, Any] = {
        "event_id": "e-" + _text(rng, 1, 30),
        "type": kind,
        "ts": _valid_ts(rng),
        "actor": _account(rng, "a-"),
        "target": _account(rng, "t-") if target == "yes" else None,
        "group_id": "g-" + _text(rng) if group == "yes" else None,
        "device_hash": "d-" + _text(rng) if rng.random() < 0.5 else None,
        "ip_hash": "i-" + _text(rng) if rng.random() < 0.5 else None,
        "first_contact": rng.choice([None, True, False]),
        "has_media": rng.choice([None, True, False]) if kind == "MESSAGE_SENT" else None,
    }
    if rng.random() < 0.02:  # the longest id the contract allows
        ev["event_id"] = "x" * MAX_ID_CHARS
    return ev


def single_object(ev: dict[str, Any]) -> bytes:
    return SINGLE_OBJECT + event_body(ev)


# -- one fault per rule ------------------------------------------------------------------

# A builder returns the message's bytes and whether it is Confluent-framed.
Built = tuple[bytes | None, bool]
Builder = Callable[[random.Random], Built]


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    code: str
    field: str | None
    build: Builder
    quota: float = 1.0  # share of per_rule (the 64 KiB messages are few)


def _framed(rng: random.Random, ev: dict[str, Any]) -> Built:
    """A body breaking a contract rule, in either framing (a fifth Confluent, id 1)."""
    if rng.random() < 0.2:
        return confluent(EVENT_SCHEMA_ID) + event_body(ev), True
    return single_object(ev), False


def _with(kinds: list[str], change: Callable[[random.Random, dict[str, Any]], None]) -> Builder:
    def build(rng: random.Random) -> Built:
        ev = valid_event(rng, rng.choice(kinds))
        change(rng, ev)
        return _framed(rng, ev)

    return build


def _set_id(path: str, value: Callable[[random.Random], str]) -> Builder:
    kinds = {"target.id": WITH_TARGET, "group_id": WITH_GROUP}.get(path, list(EVENT_TYPES))

    def change(rng: random.Random, ev: dict[str, Any]) -> None:
        if path.endswith(".id"):
            ev[path.split(".")[0]]["id"] = value(rng)
        else:
            ev[path] = value(rng)

    return _with(kinds, change)


def _far_ts(rng: random.Random) -> int:
    roll = rng.random()
    if roll < 0.05:
        return TS_MIN_MS - 1
    if roll < 0.1:
        return TS_MAX_MS
    if roll < 0.55:
        return rng.randint(LONG_MIN, TS_MIN_MS - 1)
    return rng.randint(TS_MAX_MS, LONG_MAX)


def _set_ts(path: str) -> Builder:
    kinds = WITH_TARGET if path.startswith("target") else list(EVENT_TYPES)

    def change(rng: random.Random, ev: dict[str, Any]) -> None:
        if path == "ts":
            ev["ts"] = _far_ts(rng)
        else:
            ev[path.split(".")[0]]["created_ts"] = _far_ts(rng)

    return _with(kinds, change)


def _huge_id(rng: random.Random) -> str:
    return _text(rng, MAX_ID_CHARS + 1, MAX_ID_CHARS + 60)


def _body_fault(change: Callable[[random.Random, dict[str, Any]], None]) -> Builder:
    """Break the Avro encoding of one value; single-object framing only."""

    def build(rng: random.Random) -> Built:
        ev = valid_event(rng)
        change(rng, ev)
        return single_object(ev), False

    return build


def _enum_index(rng: random.Random, symbols: int) -> Raw:
    """An enum index outside 0..symbols-1 (negative ones too: the spec has none)."""
    near = [symbols, -1, -symbols, rng.randint(-symbols, -1)]
    far = [rng.randint(symbols, 1 << 40), rng.randint(-(1 << 40), -1)]
    return Raw(long(rng.choice(near + far)))


def _bad_branch(rng: random.Random, ev: dict[str, Any]) -> None:
    field = rng.choice(["target", "group_id", "device_hash", "ip_hash", "first_contact"])
    ev[field] = Raw(long(rng.choice([rng.randint(2, 1 << 30), rng.randint(-(1 << 30), -1)])))


def _bad_utf8(rng: random.Random, ev: dict[str, Any]) -> None:
    raw = rng.randbytes(rng.randint(0, 8)) + b"\xff" + rng.randbytes(rng.randint(0, 8))
    ev["event_id"] = Raw(long(len(raw)) + raw)


def _bad_boolean(rng: random.Random, ev: dict[str, Any]) -> None:
    ev["first_contact"] = Raw(long(1) + bytes([rng.randint(2, 255)]))


def _length_past_end(rng: random.Random, ev: dict[str, Any]) -> None:
    ev["event_id"] = Raw(long(rng.randint(10_000, 1 << 40)) + b"e")


def _negative_length(rng: random.Random, ev: dict[str, Any]) -> None:
    ev["event_id"] = Raw(long(rng.randint(-(1 << 40), -1)) + b"e")


def _truncated(rng: random.Random) -> Built:
    data = single_object(valid_event(rng))
    return data[: rng.randrange(len(SINGLE_OBJECT), len(data))], False


def _trailing(rng: random.Random) -> Built:
    return single_object(valid_event(rng)) + rng.randbytes(rng.randint(1, 40)), False


def _no_marker(rng: random.Random) -> Built:
    data = rng.randbytes(rng.randint(0, 200))
    if data[:1] == b"\x00" or data[:2] == b"\xc3\x01":
        data = bytes([rng.choice([b for b in range(1, 256)])]) + data[1:]
        if data[:2] == b"\xc3\x01":
            data = b"\xc3\x02" + data[2:]
    return data, False


def _short_header(rng: random.Random) -> Built:
    if rng.random() < 0.5:
        return b"\xc3\x01" + rng.randbytes(rng.randint(0, 7)), False
    return b"\x00" + rng.randbytes(rng.randint(0, 3)), False


def _unknown_fingerprint(rng: random.Random) -> Built:
    while (fp := rng.randbytes(8)) in KNOWN_FINGERPRINTS:
        pass
    return b"\xc3\x01" + fp + event_body(valid_event(rng)), False


def _foreign_record(rng: random.Random) -> Built:
    body = event_body(valid_event(rng)) if rng.random() < 0.5 else rng.randbytes(60)
    return rng.choice(FOREIGN_HEADERS) + body, False


def _registry_id(ids: Callable[[random.Random], int]) -> Builder:
    def build(rng: random.Random) -> Built:
        return confluent(ids(rng)) + event_body(valid_event(rng)), True

    return build


def _oversized_message(rng: random.Random) -> Built:
    data = single_object(valid_event(rng))
    return data + rng.randbytes(MAX_MESSAGE_BYTES + rng.randint(1, 2048) - len(data)), False


def _drop(field: str, kinds: list[str]) -> Builder:
    return _with(kinds, lambda rng, ev: ev.update({field: None}))


def _add_target(rng: random.Random, ev: dict[str, Any]) -> None:
    ev["target"] = _account(rng, "t-")


def _add_group(rng: random.Random, ev: dict[str, Any]) -> None:
    ev["group_id"] = "g-" + _text(rng)


def _message_both(rng: random.Random, ev: dict[str, Any]) -> None:
    _add_target(rng, ev) if ev["target"] is None else _add_group(rng, ev)


def _self_contact(rng: random.Random, ev: dict[str, Any]) -> None:
    ev["target"]["id"] = ev["actor"]["id"]


def _message_direct(rng: random.Random) -> dict[str, Any]:
    while (ev := valid_event(rng, "MESSAGE_SENT"))["target"] is None:
        pass
    return ev


def _self_message(rng: random.Random) -> Built:
    ev = _message_direct(rng)
    ev["target"]["id"] = ev["actor"]["id"]
    return _framed(rng, ev)


def _rules() -> list[Rule]:
    rules = [
        Rule("tombstone", "undecodable", None, lambda rng: (None, False), quota=0),
        Rule("no_marker", "undecodable", None, _no_marker),
        Rule("short_header", "undecodable", None, _short_header),
        Rule("unknown_fingerprint", "unknown_schema", None, _unknown_fingerprint),
        Rule("foreign_record", "unknown_schema", None, _foreign_record),
        Rule("registry_unknown_id", "unknown_schema", None,
             _registry_id(lambda rng: rng.randrange(UNKNOWN_IDS.start, UNKNOWN_IDS.stop))),
        Rule("registry_unusable_schema", "unknown_schema", None,
             _registry_id(lambda rng: UNUSABLE_SCHEMA_ID)),
        Rule("registry_unavailable", "registry_unavailable", None,
             _registry_id(lambda rng: rng.choice(DOWN_IDS))),
        Rule("oversized_message", "oversized", None, _oversized_message, quota=0.1),
        Rule("truncated_body", "bad_avro", None, _truncated),
        Rule("trailing_bytes", "bad_avro", None, _trailing),
        Rule("type_index_out_of_range", "bad_avro", None,
             _body_fault(lambda rng, ev: ev.update(type=_enum_index(rng, len(EVENT_TYPES))))),
        Rule("age_band_index_out_of_range", "bad_avro", None,
             _body_fault(lambda rng, ev: ev["actor"].update(
                 age_band=_enum_index(rng, len(AGE_BANDS))))),
        Rule("union_branch_out_of_range", "bad_avro", None, _body_fault(_bad_branch)),
        Rule("boolean_not_0_or_1", "bad_avro", None, _body_fault(_bad_boolean)),
        Rule("string_not_utf8", "bad_avro", None, _body_fault(_bad_utf8)),
        Rule("length_past_end", "bad_avro", None, _body_fault(_length_past_end)),
        Rule("negative_length", "bad_avro", None, _body_fault(_negative_length)),
        Rule("target_missing", "missing_field", "target", _drop("target", WITH_TARGET)),
        Rule("group_missing", "missing_field", "group_id", _drop("group_id", WITH_GROUP)),
        Rule("target_forbidden", "contract_violation", "target",
             _with(WITHOUT_TARGET, _add_target)),
        Rule("group_forbidden", "contract_violation", "group_id",
             _with(WITHOUT_GROUP, _add_group)),
        Rule("message_neither_target_nor_group", "contract_violation", "target",
             _with(["MESSAGE_SENT"], lambda rng, ev: ev.update(target=None, group_id=None))),
        Rule("message_both_target_and_group", "contract_violation", "target",
             _with(["MESSAGE_SENT"], _message_both)),
        Rule("self_contact", "self_contact", "target.id", _with(WITH_TARGET, _self_contact)),
        Rule("self_contact_message", "self_contact", "target.id", _self_message),
    ]  # fmt: skip
    for path in ID_FIELDS:
        rules.append(Rule(f"empty_id:{path}", "empty_id", path, _set_id(path, lambda rng: "")))
        rules.append(Rule(f"oversized_id:{path}", "oversized", path, _set_id(path, _huge_id)))
    for path in TS_FIELDS:
        rules.append(Rule(f"ts_out_of_range:{path}", "ts_out_of_range", path, _set_ts(path)))
    return rules


RULES: Final = _rules()


def _key(rng: random.Random) -> bytes | None:
    return None if rng.random() < 0.1 else rng.randbytes(rng.randint(0, 16))


def build_corpus(per_rule: int = 320, seed: int = 18) -> list[Hostile]:
    """`per_rule` distinct messages per rule (times its quota), shuffled; deterministic."""
    rng = random.Random(seed)
    out: list[Hostile] = []
    seen: set[bytes] = set()
    for rule in RULES:
        want = max(1, round(per_rule * rule.quota))
        made = 0
        for _attempt in range(want * 20):
            value, framed = rule.build(rng)
            if value is not None and value in seen:
                continue
            if value is not None:
                seen.add(value)
            # Kafka refuses a record with neither key nor value.
            key = _key(rng) if value is not None else rng.randbytes(8)
            out.append(Hostile(rule.name, rule.code, rule.field, key, value, framed))
            made += 1
            if made == want:
                break
    rng.shuffle(out)
    return out


def valid_events(count: int, seed: int = 18) -> Iterator[tuple[dict[str, Any], bytes, bool]]:
    """Valid events in both framings (the corpus's starting points), for the control check."""
    rng = random.Random(seed)
    for _ in range(count):
        ev = valid_event(rng)
        value, framed = _framed(rng, ev)
        assert value is not None
        yield ev, value, framed


# -- JSON lines (files): the codes only a JSON reader gives ------------------------------


def _json_doc(ev: dict[str, Any]) -> dict[str, Any]:
    def account(a: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in a.items() if v is not None}

    doc = {k: v for k, v in ev.items() if v is not None}
    doc["actor"] = account(ev["actor"])
    if ev["target"] is not None:
        doc["target"] = account(ev["target"])
    return doc


def _json_fault(rng: random.Random) -> tuple[bytes, str, str | None]:
    doc = _json_doc(valid_event(rng))
    kind = rng.randrange(7)
    if kind == 0:  # cut before the closing brace: never a JSON object
        line = json.dumps(doc, ensure_ascii=False).encode()
        return line[: rng.randrange(1, len(line))], "bad_json", None
    if kind == 1:
        line = json.dumps(doc).encode()
        at = rng.randrange(1, len(line))
        return line[:at] + b"\xff\xfe" + line[at:], "bad_json", None
    if kind == 2:
        where = rng.choice(["", "actor"])
        name = "x_" + _text(rng, 1, 8)
        (doc[where] if where else doc)[name] = rng.randint(0, 9)
        return json.dumps(doc).encode(), "unknown_field", f"{where}.{name}" if where else name
    if kind == 3:
        field = rng.choice(["event_id", "type", "actor", "group_id", "device_hash"])
        doc[field] = rng.choice([rng.randint(-99, 99), [1], True, 2.5])
        return json.dumps(doc).encode(), "bad_type", field
    if kind == 4:  # a timestamp without a zone, or not a timestamp
        doc["ts"] = rng.choice(["2026-05-01T10:00:00", _text(rng, 3, 10), 1.5, False])
        return json.dumps(doc).encode(), "bad_type", "ts"
    if kind == 5:
        doc["type"] = "T_" + _text(rng, 1, 10)
        return json.dumps(doc).encode(), "bad_enum", "type"
    doc["actor"]["age_band"] = "B_" + _text(rng, 1, 10)
    return json.dumps(doc).encode(), "bad_enum", "actor.age_band"


def build_json_lines(count: int = 1000, seed: int = 18) -> list[tuple[bytes, str, str | None]]:
    """Distinct bad JSON lines with (line, reason code, field), for the file reader."""
    rng = random.Random(seed)
    lines: dict[bytes, tuple[bytes, str, str | None]] = {}
    while len(lines) < count:
        line, code, field = _json_fault(rng)
        if b"\n" not in line and line.strip():
            lines.setdefault(line, (line, code, field))
    return list(lines.values())
