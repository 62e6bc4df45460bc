"""What every detector is: a pure, deterministic step over small per-subject state.

A detector never sees Kafka, Faust or the wall clock. The engine hands it the events of one
subject (an account, device or IP) in event-time order, and the detector answers with a
`Finding` when a threshold is crossed. Turning findings into cases and alerts, deduplication
and state expiry are the engine's job, so every detector runs unchanged in the stream worker,
in `guardline backtest` and in unit tests.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, Final, Generic, Protocol, Self, TypeVar, get_args, get_origin

from streams.model import MINOR_BANDS, AgeBand, Event, EventType, Severity, Subject, SubjectKind

V = TypeVar("V")
ConfigT = TypeVar("ConfigT")
TimedT = TypeVar("TimedT", bound=tuple[Any, ...])
StateT = TypeVar("StateT", bound="Stored")

# JSON-compatible value: what detector state is serialised to for the changelog.
Json = Any


@dataclass(frozen=True, slots=True)
class Finding:
    """A crossed threshold with its evidence; the engine decides whether it opens or grows a case.

    `window_start_ms` is inclusive and `window_end_ms` is the trigger time (also inclusive).
    `magnitude` is what "bigger numbers" means for case updates (usually distinct minors).
    `subject` names what the alert is about when it is not the subject whose state produced
    it (e.g. a device's state catching one new account on it); the case follows that subject.
    """

    severity: Severity
    score: float
    window_start_ms: int
    window_end_ms: int
    features: dict[str, float]
    counterparts: tuple[str, ...]
    minors_exposed: int
    evidence_event_ids: tuple[str, ...]
    reason: str
    magnitude: float
    subject: Subject | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one step did. `changed` means a restart must see the new state: it decides which
    subjects are written to the changelog, so a step that only confirms what is known (a
    reply in an ongoing chat) costs no write. Expiry alone is not a change: it is re-derived
    from event time on the next step."""

    changed: bool
    finding: Finding | None = None


UNCHANGED = Outcome(changed=False)
CHANGED = Outcome(changed=True)


class Detector(Protocol):
    """The interface the engine drives. State is owned by the engine, mutated by the detector."""

    name: ClassVar[str]
    version: ClassVar[str]
    # Every event type `subjects` can route; the engine never asks about the others.
    event_types: ClassVar[frozenset[EventType]]
    # Of those, the types routed only when the target is a declared minor (`MINOR_BANDS`):
    # the engine does not ask about the rest of them (most chats are between adults).
    minor_targets_only: ClassVar[frozenset[EventType]]

    def subject_keys(self, event: Event) -> Iterable[str]:
        """State keys (`subject_key`) of the subjects this event updates (routing). Only asked
        about events of `event_types`; `step` only sees events routed here."""
        ...

    def new_state(self) -> Any: ...

    def step(self, state: Any, subject: Subject, event: Event) -> Outcome:
        """Apply one event to `subject`'s state (deduplicated, in event-time order)."""
        ...

    def expire(self, state: Any, now_ms: int) -> bool:
        """Drop what fell out of every window before `now_ms`; True when nothing is left."""
        ...

    def horizon_ms(self) -> int:
        """How far back in event time this detector's state can matter."""
        ...

    def dump(self, state: Any) -> Json: ...

    def load(self, data: Json) -> Any: ...


class Stored(Protocol):
    """Per-subject detector state: built empty, and (de)serialised for the changelog."""

    def __init__(self) -> None: ...

    def dump(self) -> Json: ...

    @classmethod
    def load(cls, data: Json) -> Self: ...


class DetectorBase(Generic[ConfigT, StateT]):
    """The part every detector shares: its config (the defaults when none is given) and its
    state's life cycle. A detector names both types once, `DetectorBase[XConfig, XState]`,
    and writes only what is its own: `subject_keys`, `step`, `expire`, `horizon_ms`."""

    name: ClassVar[str]
    version: ClassVar[str]
    event_types: ClassVar[frozenset[EventType]]  # every type `subject_keys` can route
    minor_targets_only: ClassVar[frozenset[EventType]] = frozenset()  # see `Detector`
    _config_type: ClassVar[type[Any]]
    _state_type: ClassVar[type[Stored]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for base in getattr(cls, "__orig_bases__", ()):
            if get_origin(base) is DetectorBase:
                cls._config_type, cls._state_type = get_args(base)

    def __init__(self, config: ConfigT | None = None) -> None:
        self.config: ConfigT = self._config_type() if config is None else config

    def new_state(self) -> StateT:
        return self._state_type()  # type: ignore[return-value]

    def dump(self, state: StateT) -> Json:
        return state.dump()

    def load(self, data: Json) -> StateT:
        return self._state_type.load(data)  # type: ignore[return-value]


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


# Event types through which an account reaches a minor (direct message, contact or group add),
# and an account's own life cycle.
CONTACT_TYPES: Final = frozenset(
    {EventType.MESSAGE_SENT, EventType.CONTACT_ADDED, EventType.GROUP_MEMBER_ADDED}
)
LIFECYCLE_TYPES: Final = frozenset({EventType.ACCOUNT_CREATED, EventType.ACCOUNT_DELETED})
# As constants: on Python 3.11 an enum member lookup (`EventType.X`) costs several dict lookups.
ACCOUNT_CREATED: Final = EventType.ACCOUNT_CREATED
ACCOUNT_DELETED: Final = EventType.ACCOUNT_DELETED


def reaches_minor(event: Event) -> bool:
    """A contact of a declared minor other than oneself, whatever the actor's own band."""
    target = event.target
    return (
        event.type in CONTACT_TYPES
        and target is not None
        and target.age_band in MINOR_BANDS
        and target.id != event.actor.id
    )


def adult_to_minor(event: Event, types: frozenset[EventType]) -> bool:
    """An event of `types` from an adult or unknown-age account to a minor, not a near peer.
    Detectors route only these: a minor's chats, adult-to-adult chats and near-peer chats cost
    them no state at all."""
    target = event.target
    return (
        target is not None
        and event.type in types
        and adult_reaches_minor(event.actor.age_band, target.age_band)
    )


def adult_reaches_minor(actor: AgeBand, target: AgeBand) -> bool:
    """An adult or unknown-age actor reaching a minor who is not a near peer (an 18-20-year-old
    and a 16-17-year-old)."""
    if actor in MINOR_BANDS or target not in MINOR_BANDS:
        return False
    return not (actor is AgeBand.AGE_18_20 and target is AgeBand.AGE_16_17)


def deletion_json(deleted: tuple[int, str] | None) -> list[object] | None:
    """An account's (event time, event id) of deletion, as stored."""
    return None if deleted is None else [deleted[0], deleted[1]]


def deletion_from_json(data: Json) -> tuple[int, str] | None:
    return None if data is None else (int(data[0]), str(data[1]))


MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS

_KEY_PREFIX = {kind: f"{kind.value}:" for kind in SubjectKind}
_ACCOUNT, _DEVICE, _IP = (
    _KEY_PREFIX[k] for k in (SubjectKind.ACCOUNT, SubjectKind.DEVICE, SubjectKind.IP)
)


def subject_key(kind: SubjectKind, subject_id: str) -> str:
    """A subject's state key, "KIND:id": one subject's whole history lives under it."""
    return _KEY_PREFIX[kind] + subject_id


def account_key(account_id: str) -> str:
    """`subject_key(SubjectKind.ACCOUNT, account_id)`, for routing every event cheaply."""
    return _ACCOUNT + account_id


def device_key(device_hash: str) -> str:
    return _DEVICE + device_hash


def ip_key(ip_hash: str) -> str:
    return _IP + ip_hash


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


def drop_before(entries: dict[str, TimedT], cutoff_ms: int) -> None:
    """Pop entries (tuples whose first item is the event time) at or before `cutoff_ms` from
    the (time-ordered) front."""
    while entries:
        oldest = next(iter(entries))
        if entries[oldest][0] > cutoff_ms:
            return
        del entries[oldest]


def severity_for(
    count: float, medium: float, high: float, critical_factor: float
) -> Severity | None:
    """The usual ladder: MEDIUM from `medium`, HIGH from `high`, CRITICAL from high x factor."""
    if count >= high * critical_factor:
        return Severity.CRITICAL
    if count >= high:
        return Severity.HIGH
    if count >= medium:
        return Severity.MEDIUM
    return None


def span_words(window_ms: int) -> str:
    """A window as a moderator reads it: "6 h" or "30 min"."""
    if window_ms % 3_600_000 == 0:
        return f"{window_ms // 3_600_000} h"
    return f"{window_ms // 60_000} min"


class Idle(Protocol):
    last_ms: int  # event time of the entry's last material change


IdleT = TypeVar("IdleT", bound=Idle)


def drop_idle(entries: dict[str, IdleT], cutoff_ms: int) -> None:
    """Pop entries whose last change is at or before `cutoff_ms` from the (time-ordered) front."""
    while entries:
        oldest = next(iter(entries))
        if entries[oldest].last_ms > cutoff_ms:
            return
        del entries[oldest]


def touch(entries: dict[str, V], key: str, value: V, cap: int) -> None:
    """Move `key` to the (newest) end with `value`; drop the oldest beyond `cap`.

    Per-subject state keeps its dicts in event-time order this way, so expiry pops from the
    front and the cap evicts the stalest entry."""
    entries.pop(key, None)
    entries[key] = value
    if len(entries) > cap:
        del entries[next(iter(entries))]


def capped(values: Iterable[str], cap: int) -> tuple[str, ...]:
    """First `cap` values, in order: evidence lists on alerts are bounded."""
    out: list[str] = []
    for value in values:
        if len(out) >= cap:
            break
        out.append(value)
    return tuple(out)


def describe_age(band: str, anonymous: bool, account_age_days: float | None) -> str:
    """Plain words for an account, as a moderator would say it."""
    words = {
        "AGE_18_20": "adult (18-20)",
        "AGE_21_PLUS": "adult (21+)",
        "UNKNOWN": "unknown-age",
        "UNDER_13": "under-13",
        "AGE_13_15": "13-15",
        "AGE_16_17": "16-17",
    }[band]
    parts = [words]
    if anonymous:
        parts.append("anonymous")
    if account_age_days is not None and account_age_days < 7:
        parts.append(f"{account_age_days:.0f}-day-old" if account_age_days >= 1 else "new")
    return ", ".join(parts) + " account"
