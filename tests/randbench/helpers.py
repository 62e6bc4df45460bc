"""Shared by the randbench tests: one small seed, and what an instance reached, from events."""

from __future__ import annotations

from functools import cache

from streams.model import MINOR_BANDS, Event, EventType
from streams.randbench.generate import Generated, generate

HOUR = 3_600_000
DAY = 24 * HOUR
REACH = {EventType.MESSAGE_SENT, EventType.CONTACT_ADDED, EventType.GROUP_MEMBER_ADDED}
INSTANCES = 3


@cache
def small(seed: int = 11) -> Generated:
    """A reduced background (the patterns are full size): well under a second."""
    return generate(seed, accounts=400, instances=INSTANCES)


def reaches(events: list[Event], accounts: set[str]) -> list[Event]:
    """The events through which `accounts` reach a minor outside themselves."""
    return [
        e
        for e in events
        if e.actor.id in accounts
        and e.type in REACH
        and e.target is not None
        and e.target.age_band in MINOR_BANDS
        and e.target.id not in accounts
    ]


def by_pattern(gen: Generated, pattern: str) -> list[tuple[set[str], list[Event]]]:
    out = []
    for t in gen.truth:
        if t.pattern == pattern:
            accounts = set(t.accounts)
            out.append((accounts, reaches(gen.events, accounts)))
    assert len(out) == INSTANCES
    return out


def distinct_in_window(events: list[Event], window_ms: int) -> int:
    """Most distinct minors first reached inside any window of `window_ms`."""
    first: dict[str, int] = {}
    for e in events:
        assert e.target is not None
        first.setdefault(e.target.id, e.ts_ms)
    times = sorted(first.values())
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while times[lo] <= t - window_ms:
            lo += 1
        best = max(best, hi - lo + 1)
    return best
