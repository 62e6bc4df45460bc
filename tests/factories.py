"""Tiny builders for hand-made event sequences in tests."""

from __future__ import annotations

import itertools

from streams.model import Account, AgeBand, Alert, Event, EventType, Severity

T0 = 1_795_000_000_000  # 2026-11-18, an arbitrary fixed event time
MIN = 60_000
HOUR = 60 * MIN
_ids = itertools.count()


def account(aid: str, band: AgeBand = AgeBand.AGE_13_15, **kw: object) -> Account:
    return Account(aid, band, **kw)  # type: ignore[arg-type]


def adult(aid: str = "u-adult", **kw: object) -> Account:
    return account(aid, AgeBand.AGE_21_PLUS, **kw)


def minor(aid: str, band: AgeBand = AgeBand.AGE_13_15) -> Account:
    return account(aid, band)


def message(
    actor: Account,
    target: Account,
    ts: int,
    *,
    first: bool | None = None,
    eid: str | None = None,
    media: bool | None = None,
) -> Event:
    return Event(
        event_id=eid or f"t-{next(_ids)}",
        type=EventType.MESSAGE_SENT,
        ts_ms=ts,
        actor=actor,
        target=target,
        first_contact=first,
        has_media=media,
    )


def top(alerts: list[Alert]) -> Severity | None:
    """The highest severity among `alerts` (None: no alert)."""
    return max((a.severity for a in alerts), key=lambda s: s.rank, default=None)
