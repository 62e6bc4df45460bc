"""The input event's Avro body read straight into an `Event`: the worker's hot path.

Profiled at saturation, decoding was a third of the worker's main-thread CPU: fastavro's
`schemaless_reader` builds a dict per record (and one per account), then the codec copies it
field by field into the model. This reader walks the bytes of exactly one schema,
`schemas/metadata_event.avsc` as of `FINGERPRINT`, and builds the `Event` directly (~2x
faster). The codec uses it only for messages written with that exact schema; a schema change
makes `tests/test_event_reader.py` fail until this file follows it.

It only takes well-formed input in the usual encodings. On anything else (truncated bytes, a
varint longer than 9 bytes, an enum or union index out of range, a boolean byte other than
0 or 1, invalid UTF-8) it raises, and the codec reads the message again with fastavro, whose
verdict and error message stay the reference. So it may refuse more than fastavro, never
accept more, and where both accept it returns the same values. Validation is the codec's job.
"""

from __future__ import annotations

from typing import Final

from streams.model import AGE_BANDS, EVENT_TYPES, Account, AgeBand, Event, EventType

FINGERPRINT: Final = bytes.fromhex("c8f134fedc36df6b")  # CRC-64-AVRO, as in the header

# Enum symbols in schema order (the fingerprint covers the order).
_TYPES: Final[tuple[EventType, ...]] = tuple(
    EVENT_TYPES[s]
    for s in (
        "ACCOUNT_CREATED", "ACCOUNT_DELETED", "CONTACT_ADDED", "MESSAGE_SENT",
        "GROUP_MEMBER_ADDED", "GROUP_JOINED", "BLOCKED", "REPORTED",
    )
)  # fmt: skip
_BANDS: Final[tuple[AgeBand, ...]] = tuple(
    AGE_BANDS[s]
    for s in ("UNDER_13", "AGE_13_15", "AGE_16_17", "AGE_18_20", "AGE_21_PLUS", "UNKNOWN")
)
# A one-byte zig-zag varint 2*i encodes the non-negative index i: enum indexes below these.
_TYPE_LIMIT: Final = 2 * len(_TYPES)
_BAND_LIMIT: Final = 2 * len(_BANDS)


_ACCOUNTS: dict[bytes, Account] = {}  # encoded account -> Account (see `_account`)
_MAX_ACCOUNTS: Final = 50_000


class NotFast(ValueError):
    """Input this reader leaves to fastavro (which decides whether it is valid)."""


def read_event(data: bytes, pos: int) -> tuple[Event, int]:
    """The event whose body starts at `pos`, and the position after it."""
    event_id, pos = _string(data, pos)
    kind = data[pos]
    if kind >= _TYPE_LIMIT or kind & 1:
        raise NotFast("event type index")
    ts, pos = _long(data, pos + 1)
    actor, pos = _account(data, pos)
    branch = data[pos]
    if branch == 0:
        target, pos = None, pos + 1
    elif branch == 2:
        target, pos = _account(data, pos + 1)
    else:
        raise NotFast("target branch")
    group_id, pos = _optional_string(data, pos)
    device_hash, pos = _optional_string(data, pos)
    ip_hash, pos = _optional_string(data, pos)
    first_contact, pos = _optional_boolean(data, pos)
    has_media, pos = _optional_boolean(data, pos)
    return Event(
        event_id, _TYPES[kind >> 1], ts, actor, target,
        group_id, device_hash, ip_hash, first_contact, has_media,
    ), pos  # fmt: skip


def _account(data: bytes, pos: int) -> tuple[Account, int]:
    """Accounts repeat (an active sender is the actor of many events): the same bytes give
    the same immutable Account, so a repeat costs a dict lookup instead of a construction."""
    start = pos
    size, pos = _length(data, pos)
    id_at = pos
    pos += size
    band = data[pos]
    if band >= _BAND_LIMIT or band & 1:
        raise NotFast("age band index")
    branch = data[pos + 1]
    if branch == 0:
        created, pos = None, pos + 2
    elif branch == 2:
        created, pos = _long(data, pos + 2)
    else:
        raise NotFast("created_ts branch")
    anonymous = data[pos]
    if anonymous > 1:
        raise NotFast("boolean byte")
    pos += 1
    key = data[start:pos]
    account = _ACCOUNTS.get(key)
    if account is None:
        account_id = data[id_at : id_at + size].decode()  # strict UTF-8, as fastavro
        account = Account(account_id, _BANDS[band >> 1], created, anonymous == 1)
        if len(_ACCOUNTS) >= _MAX_ACCOUNTS:
            _ACCOUNTS.clear()  # bounded memory; the next events fill it again
        _ACCOUNTS[key] = account
    return account, pos


def _long(data: bytes, pos: int) -> tuple[int, int]:
    """Zig-zag varint, at most 9 bytes (63 bits: no 64-bit wrap-around to reproduce)."""
    n = 0
    shift = 0
    while shift <= 56:
        b = data[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        if b < 0x80:
            return (n >> 1) ^ -(n & 1), pos
        shift += 7
    raise NotFast("varint longer than 9 bytes")


def _length(data: bytes, pos: int) -> tuple[int, int]:
    """A string's byte length (checked against the data) and where its bytes start."""
    size = data[pos]
    if size < 0x80:  # ids are short: a one-byte length
        if size & 1:
            raise NotFast("negative length")
        size >>= 1
        pos += 1
    else:
        size, pos = _long(data, pos)
        if size < 0:
            raise NotFast("negative length")
    if pos + size > len(data):
        raise NotFast("length past the end")
    return size, pos


def _string(data: bytes, pos: int) -> tuple[str, int]:
    size, pos = _length(data, pos)
    end = pos + size
    return data[pos:end].decode(), end  # strict UTF-8, as fastavro's default


def _optional_string(data: bytes, pos: int) -> tuple[str | None, int]:
    branch = data[pos]
    if branch == 0:
        return None, pos + 1
    if branch == 2:
        return _string(data, pos + 1)
    raise NotFast("union branch")


def _optional_boolean(data: bytes, pos: int) -> tuple[bool | None, int]:
    branch = data[pos]
    if branch == 0:
        return None, pos + 1
    value = data[pos + 1]
    if branch != 2 or value > 1:
        raise NotFast("union branch or boolean byte")
    return value == 1, pos + 2
