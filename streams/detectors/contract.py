"""What every detector is: a pure, deterministic step over small per-subject state.

A detector never sees Kafka, Faust or the wall clock. The engine hands it the events of one
subject (an account, device or IP) in event-time order, and the detector answers with a
`Finding` when a threshold is crossed. Turning findings into cases and alerts, deduplication
and state expiry are the engine's job, so every detector runs unchanged in the stream worker,
in `guardline backtest` and in unit tests.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Protocol, Self, TypeVar, get_args, get_origin

from streams.model import MINOR_BANDS, AgeBand, Event, EventType, Severity, Subject

ConfigT = TypeVar("ConfigT")
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
    `roles` gives a counterpart's role where it is not the detector's `counterpart_role`
    (a finding that lists minors and deleted accounts together).
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
    roles: dict[str, str] = field(default_factory=dict)


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
    # ... only when the actor is not a declared minor (an adult or unknown-age account),
    adult_actors_only: ClassVar[frozenset[EventType]]
    # ... only when the actor or the target is a declared minor,
    minor_party_only: ClassVar[frozenset[EventType]]
    # ... only when the event has no target (a message to a group). These four are checked
    # against `subject_keys` by tests/test_routing.py; the engine asks by them (`may_route`).
    targetless_only: ClassVar[frozenset[EventType]]
    # What its alerts' counterparts are (e.g. "minor_contacted"), unless a finding says.
    counterpart_role: ClassVar[str]

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


def may_route(
    detector: Detector, event_type: EventType, actor: AgeBand, target: AgeBand | None
) -> bool:
    """Whether `detector` may route an event of this type from an account of band `actor` to
    one of band `target` (None: no target), by what it declares: when False, its
    `subject_keys` would be empty, so the engine does not ask."""
    if event_type not in detector.event_types:
        return False
    actor_minor = actor in MINOR_BANDS
    target_minor = target in MINOR_BANDS
    return not (
        (event_type in detector.minor_targets_only and not target_minor)
        or (event_type in detector.adult_actors_only and actor_minor)
        or (event_type in detector.minor_party_only and not (actor_minor or target_minor))
        or (event_type in detector.targetless_only and target is not None)
    )


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
    adult_actors_only: ClassVar[frozenset[EventType]] = frozenset()  # see `Detector`
    minor_party_only: ClassVar[frozenset[EventType]] = frozenset()  # see `Detector`
    targetless_only: ClassVar[frozenset[EventType]] = frozenset()  # see `Detector`
    counterpart_role: ClassVar[str]  # see `Detector`
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
