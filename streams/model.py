"""The contract's records as plain, immutable Python values.

Everything inside Guardline speaks these types; Avro, JSON and Kafka only exist at the edges
(`codec.py`, `jsonl.py`, `pipeline/`). Timestamps are integer epoch milliseconds and every such
field ends in `_ms`; the wire names (`ts`, `created_ts`, ...) are mapped at the edges: in the
codec, the JSON reader, and in `Event` and `Account`'s msgspec field names (the backtest's
decoder, and msgpack between backtest jobs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Final

import msgspec


class EventType(StrEnum):
    ACCOUNT_CREATED = "ACCOUNT_CREATED"
    ACCOUNT_DELETED = "ACCOUNT_DELETED"
    CONTACT_ADDED = "CONTACT_ADDED"
    MESSAGE_SENT = "MESSAGE_SENT"
    GROUP_MEMBER_ADDED = "GROUP_MEMBER_ADDED"
    GROUP_JOINED = "GROUP_JOINED"
    BLOCKED = "BLOCKED"
    REPORTED = "REPORTED"


class AgeBand(StrEnum):
    UNDER_13 = "UNDER_13"
    AGE_13_15 = "AGE_13_15"
    AGE_16_17 = "AGE_16_17"
    AGE_18_20 = "AGE_18_20"
    AGE_21_PLUS = "AGE_21_PLUS"
    UNKNOWN = "UNKNOWN"

    @property
    def is_minor(self) -> bool:
        return self in MINOR_BANDS

    @property
    def is_adult(self) -> bool:
        return self in ADULT_BANDS


# Per-event code tests `band in MINOR_BANDS`: on Python 3.11 a property call, and even an enum
# member lookup (`AgeBand.UNDER_13`), costs several times a frozenset membership test.
MINOR_BANDS: Final = frozenset({AgeBand.UNDER_13, AgeBand.AGE_13_15, AgeBand.AGE_16_17})
ADULT_BANDS: Final = frozenset({AgeBand.AGE_18_20, AgeBand.AGE_21_PLUS})


class Severity(StrEnum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.LOW: 0, Severity.MEDIUM: 1, Severity.HIGH: 2, Severity.CRITICAL: 3}


class SubjectKind(StrEnum):
    ACCOUNT = "ACCOUNT"
    DEVICE = "DEVICE"
    IP = "IP"
    GROUP = "GROUP"


# Wire value -> member, for decoders on the hot path: a dict lookup is several times cheaper
# than calling the enum (`EventType(value)`); the codec and the routed envelope share them.
EVENT_TYPES: Final = {m.value: m for m in EventType}
AGE_BANDS: Final = {m.value: m for m in AgeBand}
SEVERITIES: Final = {m.value: m for m in Severity}
SUBJECT_KINDS: Final = {m.value: m for m in SubjectKind}

# Which event types must carry a target / a group id (CONTRACT.md, "Event types").
TARGET_REQUIRED = frozenset(
    {
        EventType.CONTACT_ADDED,
        EventType.GROUP_MEMBER_ADDED,
        EventType.BLOCKED,
        EventType.REPORTED,
    }
)
TARGET_FORBIDDEN = frozenset(
    {EventType.ACCOUNT_CREATED, EventType.ACCOUNT_DELETED, EventType.GROUP_JOINED}
)
GROUP_REQUIRED = frozenset({EventType.GROUP_MEMBER_ADDED, EventType.GROUP_JOINED})


# Ids and hashes are non-empty and bounded in every event (`validation.check_event`), so state
# keys and labels stay small; Account and Event carry that as a msgspec constraint, which their
# decoders check in C (`streams.backtesting.decode`). Timestamps are bounded by the contract's
# input rule only (`validation.TS_MIN_MS`): tests and tools build events at any time.
MAX_ID_CHARS: Final = 256
_Id = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_ID_CHARS)]


# Account and Event are msgspec Structs, frozen like the other records: msgspec decodes a
# contract JSON line straight into them in C, under the wire's field names (`ts`,
# `created_ts`), and builds them from Python ~10x faster than a frozen dataclass (0.09 µs for
# an `Event(...)` against 1.04).
# Neither holds a mutable value, so neither is tracked by the garbage collector (gc=False).
class Account(msgspec.Struct, frozen=True, gc=False, forbid_unknown_fields=True):
    id: _Id
    age_band: AgeBand
    created_ts_ms: int | None = msgspec.field(default=None, name="created_ts")
    anonymous: bool = False


class Event(msgspec.Struct, frozen=True, gc=False, forbid_unknown_fields=True):
    event_id: _Id
    type: EventType
    ts_ms: int = msgspec.field(name="ts")
    actor: Account
    target: Account | None = None
    group_id: _Id | None = None
    device_hash: _Id | None = None
    ip_hash: _Id | None = None
    first_contact: bool | None = None
    has_media: bool | None = None


@dataclass(frozen=True, slots=True)
class Subject:
    kind: SubjectKind
    id: str


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert or case update. `alert_id` is the case id; `revision` counts its updates."""

    alert_id: str
    detector: str
    detector_version: str
    severity: Severity
    score: float
    subject: Subject
    window_start_ms: int
    window_end_ms: int
    trigger_ts_ms: int
    features: dict[str, float]
    counterparts: tuple[str, ...]
    minors_exposed: int
    evidence_event_ids: tuple[str, ...]
    reason: str
    emitted_at_ms: int = 0
    revision: int = 1
    detectors_on_subject: tuple[str, ...] = field(default=())
    # Counterpart -> its role in the case (`Detector.counterpart_role`, `Finding.roles`).
    counterpart_roles: dict[str, str] = field(default_factory=dict)


class Action(StrEnum):
    CONFIRM = "CONFIRM"
    CLEAR = "CLEAR"
    ESCALATE = "ESCALATE"


@dataclass(frozen=True, slots=True)
class Decision:
    """A moderator's decision on a case (`schemas/decision.avsc`); a CLEAR suppresses the
    case's detector on its subject from `effective_ts_ms` (event time) for a configured time."""

    decision_id: str
    alert_id: str
    detector: str
    subject: Subject
    action: Action
    effective_ts_ms: int
    decided_at_ms: int
    moderator: str = ""
    note: str = ""
