"""Moderator decisions in the engine: a clear suppresses one detector on one subject.

A CLEAR applies from its `effective_ts_ms` (event time): findings of that detector on that
subject with an event time in `(from, until]` publish nothing (they are counted), the open case
it cleared is closed, and the first alert after the suppression carries the clear in its
features. A decision orders after every event at or before its effective time and before any
later one, in the stream (through the reorder buffer) and in a backtest (`run_with_decisions`)
alike, so both give the same alerts. CONFIRM and ESCALATE change no detection; they are counted.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from streams.detectors.subjects import subject_key
from streams.model import Alert, Decision, Event

if TYPE_CHECKING:
    from streams.engine.core import Engine

AFTER_EVERY_EVENT_ID = "\U0010ffff"
"""Prefix of a decision's order id: after every event id at the same event time."""


@dataclass(slots=True)
class Suppression:
    from_ms: int
    until_ms: int
    suppressed: int = 0  # findings not published while it held

    def covers(self, ts_ms: int) -> bool:
        return self.from_ms < ts_ms <= self.until_ms

    def dump(self) -> list[int]:
        return [self.from_ms, self.until_ms, self.suppressed]

    @classmethod
    def load(cls, data: Sequence[object]) -> Suppression:
        start, until, count = (int(str(v)) for v in data)
        return cls(start, until, count)


def decision_key(decision: Decision) -> str:
    """The subject state a decision goes to (the stream routes it to that key's partition)."""
    return subject_key(decision.subject.kind, decision.subject.id)


def order_key(decision: Decision) -> tuple[int, str]:
    """Where a decision sorts among events ordered by (ts, event_id)."""
    return decision.effective_ts_ms, AFTER_EVERY_EVENT_ID + decision.decision_id


def run_with_decisions(
    engine: Engine, events: Sequence[Event], decisions: Iterable[Decision]
) -> list[Alert]:
    """`engine.process_all` over events sorted by (ts, event_id), each decision applied at its
    place among them: after every event at or before its effective time."""
    times = [e.ts_ms for e in events]
    # What a subject a step failed on is rebuilt from: every event and decision so far, in order.
    merged: list[Event | Decision] = []

    def history() -> list[Event | Decision]:
        return merged

    alerts: list[Alert] = []
    done = 0
    for decision in sorted(decisions, key=order_key):
        upto = bisect.bisect_right(times, decision.effective_ts_ms, lo=done)
        merged += events[done:upto]
        alerts += engine.process_all(events[done:upto], history)
        merged.append(decision)
        done = upto
        engine.decide(decision_key(decision), decision)
    merged += events[done:]
    alerts += engine.process_all(events[done:], history)
    return alerts
