"""Expiry only when due (`DictState.due_ms`), in the cases random streams rarely reach: each
sequence is checked against expiring before every step (`properties.check_due`), and what the
memory must have dropped is asserted from how the sequence was built."""

from __future__ import annotations

from typing import Any

from streams.detectors.ban_evasion import BanEvasionConfig, BanEvasionDetector
from streams.detectors.minor_exposure import MinorExposureDetector
from streams.engine.core import Engine
from streams.model import Account, Event, EventType
from tests.detectors.properties import check_due
from tests.factories import HOUR, MIN, T0, adult, minor

DAY = 24 * HOUR
DAY0 = T0 // DAY * DAY  # a UTC midnight
GADD, MSG = EventType.GROUP_MEMBER_ADDED, EventType.MESSAGE_SENT
CREATED, DELETED = EventType.ACCOUNT_CREATED, EventType.ACCOUNT_DELETED


def _event(
    n: int, kind: EventType, actor: Account, ts: int, target: Account | None = None, **kw: Any
) -> Event:
    return Event(f"e-{n:03d}", kind, ts, actor, target, **kw)


def test_an_adult_added_yesterday_is_forgotten_a_day_later_between_midnights() -> None:
    """minor_exposure remembers adults it added to groups for a day (by event time, not by
    day): the account's steps on the next day, before and at that moment, see it go."""
    coach, parent = adult("u-coach"), adult("u-parent")
    events = [
        _event(0, GADD, coach, DAY0 + 10 * HOUR, parent, group_id="g-1"),
        _event(1, MSG, coach, DAY0 + DAY + 9 * HOUR, minor("m-1")),
        _event(2, MSG, coach, DAY0 + DAY + 10 * HOUR, minor("m-2")),  # exactly a day on
    ]
    check_due(MinorExposureDetector, events, set())
    engine = Engine([MinorExposureDetector()])
    for event in events[:2]:
        engine.process(event)
    state = engine.subjects["ACCOUNT:u-coach"].detector_states["minor_exposure"]
    assert list(state.adults) == ["u-parent"]
    engine.process(events[2])
    assert list(state.adults) == []


def test_a_deleted_minor_claim_evicted_by_the_cap_is_dropped_on_the_next_step() -> None:
    """ban_evasion: the claim of a deleted minor-band account leaves with the account, even
    when the cap evicted the account within the memory."""
    kid, kid_friend = minor("u-1"), minor("m-1")
    others = [adult(f"u-{n}") for n in (2, 3, 4)]
    device = {"device_hash": "d-1"}
    events = [
        _event(0, CREATED, kid, T0, **device),
        _event(1, MSG, kid, T0 + MIN, kid_friend, **device),
        _event(2, DELETED, kid, T0 + 2 * MIN, **device),
        *(_event(3 + n, CREATED, a, T0 + (3 + n) * MIN, **device) for n, a in enumerate(others)),
    ]

    def make() -> BanEvasionDetector:
        return BanEvasionDetector(BanEvasionConfig(max_accounts=2))

    check_due(make, events, set())
    engine = Engine([make()])
    for event in events:
        engine.process(event)
        state = engine.subjects["DEVICE:d-1"].detector_states["ban_evasion"]
        if event.event_id == "e-002":
            assert state.minor_claims == {"u-1"}
    assert list(state.accounts) == ["u-3", "u-4"]
    assert state.minor_claims == set()


def test_a_live_account_s_first_minor_ages_out_though_it_reached_another_since() -> None:
    """ban_evasion: a live account's minors are each forgotten `memory_ms` after their first
    contact, while the account itself stays (it reached a later one)."""
    roamer, passer, kids = adult("u-1"), adult("u-2"), [minor(f"m-{n}") for n in range(3)]
    device = {"device_hash": "d-1"}
    events = [
        _event(0, CREATED, passer, T0, **device),
        _event(1, MSG, roamer, T0 + HOUR, kids[0], **device),
        _event(2, MSG, roamer, T0 + 2 * HOUR, kids[1], **device),
        _event(3, CREATED, adult("u-3"), T0 + 3 * HOUR, **device),  # u-2 exactly 3 h idle
        _event(4, MSG, roamer, T0 + 4 * HOUR, kids[2], **device),  # m-0 exactly 3 h old
    ]

    def make() -> BanEvasionDetector:
        return BanEvasionDetector(BanEvasionConfig(memory_ms=3 * HOUR))

    check_due(make, events, set())
    engine = Engine([make()])
    for event in events:
        engine.process(event)
    state = engine.subjects["DEVICE:d-1"].detector_states["ban_evasion"]
    assert list(state.accounts) == ["u-3", "u-1"]
    assert list(state.accounts["u-1"].minors) == ["m-1", "m-2"]
