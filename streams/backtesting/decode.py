"""JSON Lines to events, fast: msgspec decodes and checks a line into an `Event` in C.

`Event` and `Account` are msgspec Structs carrying the contract's field names, types and id
bounds, so msgspec builds the engine's own values and refuses what breaks those rules; the
rules it does not check (which event types carry a target or a group id, read off
`check_event` itself; no self contact; the timestamps' bounds) are a set lookup and a few
compares here (`_fits`).

The contract reader (`streams.jsonl.event_from_json`) stays the reference: msgspec takes only
lines written exactly as the contract's JSON (epoch-ms integers, no unknown field, exact
types); on anything it refuses, the line is read again by the reference reader, whose verdict,
reason code and message stand. So this path may refuse more than the reference, never accept
more, and where both accept they build equal events (tests/backtesting/test_decode.py).
"""

from __future__ import annotations

import io
from typing import Final

import msgspec

from streams.jsonl import event_from_line
from streams.model import Account, AgeBand, Event, EventType
from streams.validation import TS_MAX_MS, TS_MIN_MS, InvalidEvent, check_event

_DECODE: Final = msgspec.json.Decoder(Event).decode
_REFUSED: Final = (msgspec.DecodeError, ValueError, RecursionError)

Decoded = list[tuple[int, Event | InvalidEvent]]
"""(position in the source, the event or why it was refused)."""


def decode_line(raw: bytes) -> Event | InvalidEvent:
    """One non-blank line: the checked event, or the reference reader's reason to refuse it."""
    try:
        event = _DECODE(raw)
    except _REFUSED:
        return event_from_line(raw)
    return event if _fits(event) else event_from_line(raw)


def decode_lines(body: bytes, number: int) -> Decoded:
    """The non-blank lines of `body` (split at b"\\n" only, as a file is), numbered from
    `number`, decoded. A block whose every line msgspec takes is decoded in one pass over its
    lines; one with a line it refuses (a blank line too), line by line (`decode_line`)."""
    lines = body.split(b"\n")  # no stripped copies of the block first (1 MiB each)
    if not lines[-1]:
        lines.pop()  # the last line's b"\n"; any other blank line sends the block below
    try:
        events = list(map(_DECODE, lines))
    except _REFUSED:
        pass
    else:
        if all(map(_fits, events)):
            return list(enumerate(events, number))
    out: Decoded = []
    for raw in io.BytesIO(body):  # each line with its b"\n": the reference's messages say where
        if raw.strip():
            out.append((number, decode_line(raw)))
        number += 1
    return out


def _shapes() -> frozenset[tuple[EventType, bool, bool]]:
    """(type, has a target, has a group id) as `check_event` accepts them: every type with
    each of the four shapes, on otherwise valid values, asked of the reference itself."""
    actor, other = Account("a", AgeBand.UNKNOWN), Account("b", AgeBand.UNKNOWN)
    accepted: set[tuple[EventType, bool, bool]] = set()
    for kind in EventType:
        for target in (None, other):
            for group in (None, "g"):
                try:
                    check_event(Event("e", kind, TS_MIN_MS, actor, target, group))
                except InvalidEvent:
                    continue
                accepted.add((kind, target is not None, group is not None))
    return frozenset(accepted)


_SHAPES: Final = _shapes()


def _fits(event: Event) -> bool:
    """What `check_event` checks and msgspec did not: the type's shape, no self contact, and
    the timestamps' bounds."""
    actor, target = event.actor, event.target
    if not TS_MIN_MS <= event.ts_ms < TS_MAX_MS:
        return False
    created = actor.created_ts_ms
    if created is not None and not TS_MIN_MS <= created < TS_MAX_MS:
        return False
    if target is None:
        return (event.type, False, event.group_id is not None) in _SHAPES
    created = target.created_ts_ms
    return (
        (event.type, True, event.group_id is not None) in _SHAPES
        and target.id != actor.id
        and (created is None or TS_MIN_MS <= created < TS_MAX_MS)
    )
