"""JSON Lines to events, fast: msgspec decodes and type-checks a line in C.

The contract reader (`streams.jsonl.event_from_json`) stays the reference: msgspec takes
only lines written exactly as the contract's JSON (epoch-ms integers, no unknown field, exact
types); on anything it refuses, the line is read again by the reference reader, whose verdict,
reason code and message stand. So this path may refuse more than the reference, never accept
more, and where both accept they build equal events (tests/backtesting/test_decode.py).
"""

from __future__ import annotations

from dataclasses import fields
from typing import Final

import msgspec

from streams.jsonl import event_from_line
from streams.model import Account, AgeBand, Event, EventType
from streams.validation import InvalidEvent, check_event


class _WireAccount(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    id: str
    age_band: AgeBand
    created_ts: int | None = None
    anonymous: bool | None = None


class _WireEvent(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    event_id: str
    type: EventType
    ts: int
    actor: _WireAccount
    target: _WireAccount | None = None
    group_id: str | None = None
    device_hash: str | None = None
    ip_hash: str | None = None
    first_contact: bool | None = None
    has_media: bool | None = None


_FAST: Final = msgspec.json.Decoder(_WireEvent)


def decode_line(raw: bytes) -> Event | InvalidEvent:
    """One non-blank line: the checked event, or the reference reader's reason to refuse it."""
    try:
        wire = _FAST.decode(raw)
    except (msgspec.DecodeError, ValueError, RecursionError):
        return event_from_line(raw)
    try:
        return check_event(_event(wire))
    except InvalidEvent as err:
        return err


# Event and Account are frozen dataclasses, whose __init__ costs a call to object.__setattr__
# per field; filling the slots through their descriptors gives equal values in half the time
# (as `streams.simulate` does).
_NEW: Final = object.__new__
_SET_EVENT: Final = tuple(getattr(Event, f.name).__set__ for f in fields(Event))
_SET_ACCOUNT: Final = tuple(getattr(Account, f.name).__set__ for f in fields(Account))


def _event(wire: _WireEvent) -> Event:
    set_id, set_type, set_ts, set_actor, set_target, set_group, *rest = _SET_EVENT
    set_device, set_ip, set_first, set_media = rest
    event = _NEW(Event)
    set_id(event, wire.event_id)
    set_type(event, wire.type)
    set_ts(event, wire.ts)
    set_actor(event, _account(wire.actor))
    set_target(event, None if wire.target is None else _account(wire.target))
    set_group(event, wire.group_id)
    set_device(event, wire.device_hash)
    set_ip(event, wire.ip_hash)
    set_first(event, wire.first_contact)
    set_media(event, wire.has_media)
    return event


# An account appears in many events, each time as the same four values: one frozen `Account`
# serves them all (built once, and held once in the reorder buffer), up to this many.
_ACCOUNTS_KEPT: Final = 1 << 16
_accounts: dict[tuple[str, AgeBand, int | None, bool | None], Account] = {}


def _account(wire: _WireAccount) -> Account:
    key = (wire.id, wire.age_band, wire.created_ts, wire.anonymous)
    account = _accounts.get(key)
    if account is not None:
        return account
    if len(_accounts) >= _ACCOUNTS_KEPT:
        _accounts.clear()
    account = _accounts[key] = _NEW(Account)
    set_id, set_band, set_created, set_anonymous = _SET_ACCOUNT
    set_id(account, wire.id)
    set_band(account, wire.age_band)
    set_created(account, wire.created_ts)
    set_anonymous(account, wire.anonymous is True)
    return account
