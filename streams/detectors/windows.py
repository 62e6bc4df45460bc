"""Event time: the units detectors count in, and expiry from the front of time-ordered dicts.

Per-subject state keeps its dicts in event-time order (see `state.touch`), so what fell out of
a window is always at the front.
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS

TimedT = TypeVar("TimedT", bound=tuple[Any, ...])


def drop_before(entries: dict[str, TimedT], cutoff_ms: int) -> None:
    """Pop entries (tuples whose first item is the event time) at or before `cutoff_ms` from
    the (time-ordered) front."""
    while entries:
        oldest = next(iter(entries))
        if entries[oldest][0] > cutoff_ms:
            return
        del entries[oldest]


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
