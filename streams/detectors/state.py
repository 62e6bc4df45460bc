"""Per-subject state: dicts in event-time order, the day-granular pair memory, stored forms."""

from __future__ import annotations

from typing import ClassVar, Self, TypeVar

from streams.detectors.contract import Json
from streams.detectors.windows import DAY_MS
from streams.model import Event

V = TypeVar("V")


class DictState:
    """State made of dicts kept in event-time order, one per slot, each dumped as rows
    `[key, value]` (or `[key, *value]` for a tuple value) under the short JSON name the
    subclass gives it in `json_names`: {"slot": "s", ...}."""

    __slots__ = ()
    json_names: ClassVar[dict[str, str]]

    def __init__(self) -> None:
        for slot in self.json_names:
            setattr(self, slot, {})

    def dump(self) -> Json:
        return {
            short: [
                [key, *value] if isinstance(value, tuple) else [key, value]
                for key, value in getattr(self, slot).items()
            ]
            for slot, short in self.json_names.items()
        }

    @classmethod
    def load(cls, data: Json) -> Self:
        state = cls()
        for slot, short in cls.json_names.items():
            rows = data.get(short, ())  # a slot added since this state was written
            setattr(
                state, slot, {row[0]: row[1] if len(row) == 2 else tuple(row[1:]) for row in rows}
            )
        return state


def touch(entries: dict[str, V], key: str, value: V, cap: int) -> None:
    """Move `key` to the (newest) end with `value`; drop the oldest beyond `cap`.

    Per-subject state keeps its dicts in event-time order this way, so expiry pops from the
    front and the cap evicts the stalest entry."""
    entries.pop(key, None)
    entries[key] = value
    if len(entries) > cap:
        del entries[next(iter(entries))]


def remember_pair(
    pairs: dict[str, int], counterpart: str, now_ms: int, max_pairs: int
) -> int | None:
    """Note a contact with `counterpart` in a day-granular pair memory; returns the day it was
    last seen (None: not remembered, i.e. new as far as this memory knows).

    Kept at day granularity so an ongoing chat costs no state write (the day changes at most
    once a day); the dict stays ordered by day, oldest first, and holds at most `max_pairs`.
    Callers compare the returned day with `now_ms // DAY_MS` to know whether state changed.
    """
    day = now_ms // DAY_MS
    last_day = pairs.get(counterpart)
    if last_day != day:
        pairs.pop(counterpart, None)  # re-insert at the back: newest day last
        pairs[counterpart] = day
        if len(pairs) > max_pairs:
            del pairs[next(iter(pairs))]
    return last_day


def forget_pairs(pairs: dict[str, int], now_ms: int, memory_ms: int) -> None:
    """Drop counterparts not seen for `memory_ms` (at day granularity) from the front."""
    cutoff = (now_ms - memory_ms) // DAY_MS
    while pairs:
        oldest = next(iter(pairs))
        if pairs[oldest] > cutoff:
            return
        del pairs[oldest]


def is_first_contact(event: Event, last_day: int | None) -> bool:
    """The platform's `first_contact` flag when present, else "not in this pair memory".

    A pair forgotten by the memory counts as new again: the flag-less platform's blind spot.
    """
    return event.first_contact if event.first_contact is not None else last_day is None


def deletion_json(deleted: tuple[int, str] | None) -> list[object] | None:
    """An account's (event time, event id) of deletion, as stored."""
    return None if deleted is None else [deleted[0], deleted[1]]


def deletion_from_json(data: Json) -> tuple[int, str] | None:
    return None if data is None else (int(data[0]), str(data[1]))
