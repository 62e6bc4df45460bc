"""A minimal Avro binary writer for the event schema, written from the Avro spec, not the codec.

Why: the hostile corpus (`tests/hostile_corpus.py`) must know what it built without asking the
code under test. This writer follows `schemas/metadata_event.avsc` field by field; `Raw` puts
exact bytes where a value would go, so a builder can break one field's encoding (an enum index
out of range, a union branch that does not exist, bytes that are not UTF-8) and leave the rest
valid. A test checks it writes the same bytes as `streams.codec.encode_event` for valid events.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

EVENT_TYPES: Final = (
    "ACCOUNT_CREATED", "ACCOUNT_DELETED", "CONTACT_ADDED", "MESSAGE_SENT",
    "GROUP_MEMBER_ADDED", "GROUP_JOINED", "BLOCKED", "REPORTED",
)  # fmt: skip
AGE_BANDS: Final = ("UNDER_13", "AGE_13_15", "AGE_16_17", "AGE_18_20", "AGE_21_PLUS", "UNKNOWN")


@dataclass(frozen=True, slots=True)
class Raw:
    """Bytes written verbatim in place of a value's encoding."""

    data: bytes


def long(n: int) -> bytes:
    """Zig-zag, then base-128 varint, least significant group first (Avro `long` and `int`)."""
    z = (n << 1) ^ (n >> 63)
    z &= (1 << 64) - 1
    out = bytearray()
    while z >= 0x80:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


def string(s: str | Raw) -> bytes:
    if isinstance(s, Raw):
        return s.data
    data = s.encode("utf-8")
    return long(len(data)) + data


def _enum(value: str | Raw, symbols: tuple[str, ...]) -> bytes:
    return value.data if isinstance(value, Raw) else long(symbols.index(value))


def _optional(value: Any, write: Any) -> bytes:
    """A `["null", T]` union: branch 0 is null, branch 1 is T."""
    if isinstance(value, Raw):
        return value.data
    return long(0) if value is None else long(1) + write(value)


def _boolean(b: bool) -> bytes:
    return b"\x01" if b else b"\x00"


def account(a: dict[str, Any] | Raw) -> bytes:
    if isinstance(a, Raw):
        return a.data
    return (
        string(a["id"])
        + _enum(a["age_band"], AGE_BANDS)
        + _optional(a.get("created_ts"), long)
        + _boolean(a.get("anonymous", False))
    )


def event_body(ev: dict[str, Any]) -> bytes:
    """The Avro body of a `MetadataEvent` given as a JSON-like dict (absent = null)."""
    ts = ev["ts"]
    return (
        string(ev["event_id"])
        + _enum(ev["type"], EVENT_TYPES)
        + (ts.data if isinstance(ts, Raw) else long(ts))
        + account(ev["actor"])
        + _optional(ev.get("target"), account)
        + _optional(ev.get("group_id"), string)
        + _optional(ev.get("device_hash"), string)
        + _optional(ev.get("ip_hash"), string)
        + _optional(ev.get("first_contact"), _boolean)
        + _optional(ev.get("has_media"), _boolean)
    )
