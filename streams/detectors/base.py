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
from typing import Any, ClassVar, Protocol

from streams.model import Event, Severity, Subject

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

    def subjects(self, event: Event) -> Iterable[Subject]:
        """The subjects (kind and id) whose state this event updates (routing)."""
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
