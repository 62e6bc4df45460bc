"""Per-subject state: its stored form, declared once; dicts in event-time order; pair memory.

A detector's state is a `DictState`: dicts (and sets) named in `json_names` with the short
name each is stored under, their types in the class's annotations. What a dict holds decides
its rows: a scalar `[key, value]`, a tuple `[key, *value]`, a `Row` `[key, *row]`; a set is a
sorted list. A `Row` is a record stored as one flat list: the fields named in `row`, in that
order, converted by their annotations (a bool as 0/1, a tuple or None as a list or null), a
last field that is a dict written key then value(s), item by item. No detector writes its
stored form by hand. Changing a declaration changes the format: a new `DictState` slot is
compatible (absent from older state, it loads empty); a `Row`'s layout is positional, so any
change to it needs the detector's version bumped and older state read by a migration.
"""

from __future__ import annotations

import operator
import types
import typing
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Self, TypeVar

from streams.detectors.contract import Json
from streams.detectors.windows import DAY_MS
from streams.model import Event

V = TypeVar("V")


def _optional(hint: Any) -> Any:
    """`X` of `X | None`, else `hint` itself."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return hint


def _is_row(hint: Any) -> bool:
    return isinstance(hint, type) and issubclass(hint, Row)


_Field = tuple[str, Callable[[Any], Json] | None, Callable[[Json], Any] | None]


def _field(name: str, hint: Any) -> _Field:
    """A field's (name, to JSON, from JSON); None where JSON keeps the value as it is."""
    hint = _optional(hint)
    if hint is bool:
        return name, int, bool
    if typing.get_origin(hint) is tuple:
        return (
            name,
            lambda v: None if v is None else list(v),
            lambda v: None if v is None else tuple(v),
        )
    return name, None, None


class Row:
    """A record stored as one flat list (see the module): `row` names the stored fields.

    Built empty (`cls()`) before a load sets its stored fields, so fields not stored keep
    their defaults."""

    __slots__ = ()
    row: ClassVar[tuple[str, ...]]
    _fields: ClassVar[list[_Field]]
    _head: ClassVar[Callable[[Any], tuple[Any, ...]]]  # the stored fields before the tail
    _encode: ClassVar[list[tuple[int, Callable[[Any], Json]]]]  # where JSON needs a change
    _tail: ClassVar[tuple[str, int] | None]  # a last dict field: its name, values' width

    @classmethod
    def _plan(cls) -> None:
        if "_fields" in cls.__dict__:
            return
        hints = typing.get_type_hints(cls)
        *head, last = cls.row
        cls._tail = None
        if typing.get_origin(hints[last]) is dict:
            value = typing.get_args(hints[last])[1]
            width = len(typing.get_args(value)) if typing.get_origin(value) is tuple else 1
            cls._tail = (last, width)
        else:
            head.append(last)
        cls._fields = [_field(name, hints[name]) for name in head]
        getter = operator.attrgetter(*head)
        cls._head = getter if len(head) > 1 else lambda record: (getter(record),)
        cls._encode = [(i, enc) for i, (_, enc, _) in enumerate(cls._fields) if enc is not None]

    def dump_row(self) -> list[Json]:
        cls = type(self)
        if "_fields" not in cls.__dict__:
            cls._plan()
        out = list(cls._head(self))
        for i, enc in cls._encode:
            out[i] = enc(out[i])
        if cls._tail is not None:
            name, width = cls._tail
            items: dict[str, Any] = getattr(self, name)
            if width == 1:
                for key, value in items.items():
                    out += (key, value)
            else:
                for key, value in items.items():
                    out.append(key)
                    out += value
        return out

    @classmethod
    def load_row(cls, data: Sequence[Json]) -> Self:
        cls._plan()
        record = cls()
        fields = cls._fields
        for (name, _, dec), value in zip(fields, data, strict=False):
            setattr(record, name, value if dec is None else dec(value))
        if cls._tail is not None:
            name, width = cls._tail
            flat = data[len(fields) :]
            if width == 1:
                items = dict(zip(flat[::2], flat[1::2], strict=True))
            else:
                step = width + 1
                items = {flat[i]: tuple(flat[i + 1 : i + step]) for i in range(0, len(flat), step)}
            setattr(record, name, items)
        return record


class DictState:
    """State made of dicts (and sets), stored under the short JSON names the subclass gives
    them in `json_names` ({"slot": "s", ...}), rows as the module says.

    `shared` ({"slot": "other"}) stores a value that is also `other`'s under the same key as
    `[key]` alone, and loads it as that same object (`other` must come first in
    `json_names`)."""

    __slots__ = ("due_ms",)
    json_names: ClassVar[dict[str, str]]
    shared: ClassVar[dict[str, str]] = {}
    _slots: ClassVar[list[tuple[str, str, str, Any]]]  # slot, short name, kind, row type
    # Event time from which the detector's `expire` may have something to drop; it skips
    # expiry before then. Not stored: 0 (expire on the next step) when built or loaded.
    due_ms: int

    @classmethod
    def _plan(cls) -> list[tuple[str, str, str, Any]]:
        plan: list[tuple[str, str, str, Any]] | None = cls.__dict__.get("_slots")
        if plan is None:
            hints = typing.get_type_hints(cls)
            plan = []
            for slot, short in cls.json_names.items():
                hint = hints.get(slot)
                origin = typing.get_origin(hint)
                value = typing.get_args(hint)[1] if origin is dict else None
                if origin is set:
                    plan.append((slot, short, "set", None))
                elif _is_row(value):
                    plan.append((slot, short, "rows", value))
                else:
                    plan.append((slot, short, "plain", None))
            cls._slots = plan
        return plan

    def __init__(self) -> None:
        self.due_ms = 0
        for slot, _short, kind, _row in self._plan():
            setattr(self, slot, set() if kind == "set" else {})

    def dump(self) -> Json:
        out: dict[str, Json] = {}
        shared = self.shared
        for slot, short, kind, _row in self._plan():
            entries = getattr(self, slot)
            if kind == "plain":
                out[short] = [
                    [key, *value] if isinstance(value, tuple) else [key, value]
                    for key, value in entries.items()
                ]
            elif kind == "set":
                out[short] = sorted(entries)
            elif slot in shared:
                other = getattr(self, shared[slot])
                out[short] = [
                    [key] if other.get(key) is value else [key, *value.dump_row()]
                    for key, value in entries.items()
                ]
            else:
                out[short] = [[key, *value.dump_row()] for key, value in entries.items()]
        return out

    @classmethod
    def load(cls, data: Json) -> Self:
        state = cls()
        for slot, short, kind, row in cls._plan():
            rows = data.get(short, ())  # a slot added since this state was written
            if kind == "plain":
                value: Any = {r[0]: r[1] if len(r) == 2 else tuple(r[1:]) for r in rows}
            elif kind == "set":
                value = set(rows)
            elif slot in cls.shared:
                other = getattr(state, cls.shared[slot])
                value = {r[0]: other[r[0]] if len(r) == 1 else row.load_row(r[1:]) for r in rows}
            else:
                value = {r[0]: row.load_row(r[1:]) for r in rows}
            setattr(state, slot, value)
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
