"""cold_outreach on hand-made sequences, through the engine: each expected severity is
counted by hand from how the sequence was built (openings, answers, who wrote first)."""

from __future__ import annotations

from itertools import count

import pytest

from streams.detectors.cold_outreach import ColdOutreachConfig, ColdOutreachDetector
from streams.engine.core import Engine
from streams.model import Account, AgeBand, Alert, Event, EventType, Severity
from tests.factories import HOUR, MIN, T0, account, adult, minor, top

MSG, ADD, GADD = EventType.MESSAGE_SENT, EventType.CONTACT_ADDED, EventType.GROUP_MEMBER_ADDED
_ids = count()


def ev(
    kind: EventType, actor: Account, target: Account, ts: int, first: bool | None = None
) -> Event:
    group = "g-1" if kind is GADD else None
    return Event(f"c-{next(_ids):04d}", kind, ts, actor, target, group, first_contact=first)


def run(events: list[Event], config: ColdOutreachConfig | None = None) -> list[Alert]:
    engine = Engine([ColdOutreachDetector(config)])
    return engine.process_all(sorted(events, key=lambda e: (e.ts_ms, e.event_id)))


KIDS = [minor(f"m-{i}") for i in range(8)]


def outreach(who: Account, answered: int, kind: EventType = MSG) -> list[Event]:
    """Five openings 10 min apart, the first `answered` answered within 5 min, then a sixth
    opening at +2 h: five settled (every grace of a message has run out), one pending."""
    out = [ev(kind, who, KIDS[i], T0 + i * 10 * MIN) for i in range(5)]
    out += [ev(MSG, KIDS[i], who, T0 + i * 10 * MIN + 5 * MIN) for i in range(answered)]
    out.append(ev(kind, who, KIDS[5], T0 + 2 * HOUR))
    return out


def test_six_openings_four_silent_one_answered_is_high() -> None:
    # 6 opened, 1 answered, 4 unanswered (silence 4.0 >= 4), 1 <= 0.4 x 5 answered.
    alerts = run(outreach(adult(), answered=1))
    assert top(alerts) is Severity.HIGH
    high = next(a for a in alerts if a.severity is Severity.HIGH)
    assert high.features["minors_opened"] == 6
    assert high.features["minors_answered"] == 1
    assert high.features["minors_unanswered"] == 4
    assert high.features["minors_pending"] == 1
    assert high.minors_exposed == 6
    assert set(high.counterparts) == {k.id for k in KIDS[:6]}


def test_a_declared_teen_with_most_openings_silent_is_high_too() -> None:
    # The teen bar (6 opened, 40%) is met as the adult one is: 6 opened, 1 of 5 answered.
    assert top(run(outreach(account("u-claims-16", AgeBand.AGE_16_17), answered=1))) is (
        Severity.HIGH
    )


def test_most_answering_is_no_finding() -> None:
    # 3 answered of 5 settled: for a declared teen 3 > 0.4 x 5 (new friends answer); for an
    # adult, 4 answered of 5: 4 > 0.6 x 5.
    assert run(outreach(account("u-claims-15", AgeBand.AGE_13_15), answered=3)) == []
    assert run(outreach(adult(), answered=4)) == []


@pytest.mark.parametrize("band", [AgeBand.AGE_21_PLUS, AgeBand.AGE_18_20, AgeBand.UNKNOWN])
def test_an_adult_is_spared_only_when_most_answer(band: AgeBand) -> None:
    # 3 answered of 5 settled: 3 <= 0.6 x 5 for an adult or unknown-age claim, so the two
    # silent ones (silence 2.0 = silent_medium) and 6 opened give MEDIUM (silence < 4.0).
    alerts = run(outreach(account(f"u-{band.value}", band), answered=3))
    assert top(alerts) is Severity.MEDIUM
    medium = next(a for a in alerts if a.severity is Severity.MEDIUM)
    assert medium.features["minors_answered"] == 3
    assert medium.features["threshold_answer_share"] == 0.6


def test_a_minor_who_came_to_it_spares_it() -> None:
    who = adult()
    friend = minor("m-friend")
    events = [ev(MSG, friend, who, T0 - HOUR), *outreach(who, answered=1)]
    assert run(events) == []


def test_a_minor_who_came_to_it_more_than_the_window_ago_spares_nothing() -> None:
    # The friend's message falls out of the 14-day memory (15 days back): counting starts again.
    who = adult()
    friend = minor("m-friend")
    events = [ev(MSG, friend, who, T0 - 15 * 24 * HOUR), *outreach(who, answered=1)]
    assert top(run(events)) is Severity.HIGH


def test_a_group_added_minor_answering_is_not_coming_to_it() -> None:
    who = adult()
    roomie = minor("m-room")
    events = [ev(GADD, who, roomie, T0 - HOUR), ev(MSG, roomie, who, T0 - 50 * MIN)]
    assert top(run([*events, *outreach(who, answered=1)])) is Severity.HIGH


def test_silent_contact_adds_weigh_half_after_a_day() -> None:
    # Five adds, one answered; the sixth a day and a bit later: 4 silent adds x 0.5 = 2.0,
    # at least `silent_medium` (2) but under `silent_high` (4): MEDIUM.
    who = adult()
    events = [ev(ADD, who, KIDS[i], T0 + i * 10 * MIN) for i in range(5)]
    events += [ev(MSG, KIDS[0], who, T0 + 5 * MIN), ev(ADD, who, KIDS[5], T0 + 25 * HOUR)]
    alerts = run(events)
    assert top(alerts) is Severity.MEDIUM
    assert alerts[-1].features["silence_weighted"] == 2.0


def test_the_platform_saying_they_talked_before_is_no_opening() -> None:
    who = adult()
    events = [ev(MSG, who, KIDS[i], T0 + i * 10 * MIN, first=False) for i in range(5)]
    events.append(ev(MSG, who, KIDS[5], T0 + 2 * HOUR, first=False))
    assert run(events) == []


def test_replies_in_chats_minors_started_are_no_openings() -> None:
    # No flag: the account's messages answer chats the minors started, so nothing is opened,
    # and those minors came to it.
    who = adult()
    events = [ev(MSG, KIDS[i], who, T0 + i * 10 * MIN) for i in range(6)]
    events += [ev(MSG, who, KIDS[i], T0 + 3 * HOUR + i * MIN) for i in range(6)]
    assert run(events) == []


@pytest.mark.parametrize(("days", "expected"), [(13, Severity.HIGH), (15, None)])
def test_openings_expire_with_the_window(days: int, expected: Severity | None) -> None:
    # An adult's four silent openings, then a fifth `days` later: inside the 14-day window
    # the four count (5 opened = adult_minors, 4 silent: HIGH); past it they fell out and one
    # opening is left.
    who = adult()
    events = [ev(MSG, who, KIDS[i], T0 + i * 10 * MIN) for i in range(4)]
    events.append(ev(MSG, who, KIDS[4], T0 + days * 24 * HOUR))
    assert top(run(events)) is expected


@pytest.mark.parametrize(
    ("who", "opened", "expected"),
    [
        (adult(), 15, Severity.CRITICAL),  # 3 x adult_minors 5
        (adult(), 14, Severity.HIGH),
        (account("u-claims-16", AgeBand.AGE_16_17), 18, Severity.CRITICAL),  # 3 x high_minors 6
        (account("u-claims-16", AgeBand.AGE_16_17), 17, Severity.HIGH),
    ],
)
def test_critical_at_three_times_high(who: Account, opened: int, expected: Severity) -> None:
    kids = [minor(f"k-{i:02d}") for i in range(opened)]
    events = [ev(MSG, who, k, T0 + i * 2 * HOUR) for i, k in enumerate(kids)]
    assert top(run(events)) is expected


@pytest.mark.parametrize(
    ("who", "expected"),
    [(adult(), Severity.HIGH), (account("u-claims-16", AgeBand.AGE_16_17), None)],
)
def test_five_silent_openings_are_high_only_for_an_adult(
    who: Account, expected: Severity | None
) -> None:
    # Five openings two hours apart, none answered: at the fifth, four are settled and silent
    # (silence 4.0). An adult's bar is 5 opened (adult_minors), a declared teen's 6.
    events = [ev(MSG, who, KIDS[i], T0 + i * 2 * HOUR) for i in range(5)]
    assert top(run(events)) is expected
