"""sextortion_velocity on hand-made sequences and properties, mostly through the engine."""

from __future__ import annotations

import dataclasses
import tomllib

import pytest

from streams.config import DEFAULTS_PATH
from streams.detectors.sextortion_velocity import (
    SextortionVelocityConfig,
    SextortionVelocityDetector,
)
from streams.engine.core import Engine
from streams.model import Account, AgeBand, Alert, Event, Severity, Subject, SubjectKind
from tests.factories import HOUR, MIN, T0, account, adult, message, minor, top

DAY = 24 * HOUR
U13, A13, A16 = AgeBand.UNDER_13, AgeBand.AGE_13_15, AgeBand.AGE_16_17


def run(events: list[Event], config: SextortionVelocityConfig | None = None) -> list[Alert]:
    engine = Engine([SextortionVelocityDetector(config)])
    ordered = sorted(events, key=lambda e: (e.ts_ms, e.event_id))
    return [a for e in ordered for a in engine.process(e)]


def escalate(
    actor: Account,
    target: Account,
    t0: int,
    *,
    n: int = 15,
    media: int = 3,
    spacing_ms: int = MIN,
    first: bool | None = None,
) -> list[Event]:
    """A first message, then n-1 more `spacing_ms` apart; the last `media` carry media."""
    return [
        message(
            actor,
            target,
            t0 + i * spacing_ms,
            first=first if i == 0 else None,
            media=i >= n - media or None,
        )
        for i in range(n)
    ]


def victims(actor: Account, bands: list[AgeBand], **kw: object) -> list[Event]:
    """Escalation with one minor after another, 40 minutes apart."""
    out: list[Event] = []
    for i, band in enumerate(bands):
        out += escalate(actor, minor(f"m-{i}", band), T0 + i * 40 * MIN, **kw)  # type: ignore[arg-type]
    return out


NEW_ADULT = adult(anonymous=True, created_ts_ms=T0 - HOUR)


@pytest.mark.parametrize(
    ("case", "events", "expected"),
    [
        ("three children, one under 13", victims(NEW_ADULT, [U13, A13, A13]), Severity.HIGH),
        ("two under-13s", victims(NEW_ADULT, [U13, U13]), Severity.HIGH),
        ("three 13-15s", victims(NEW_ADULT, [A13, A13, A13]), Severity.HIGH),
        ("unknown-age actor", victims(account("u-x", AgeBand.UNKNOWN), [U13, A16]), Severity.HIGH),
        ("first flag shown", victims(NEW_ADULT, [U13, A13], first=True), Severity.HIGH),
        ("one under-13", victims(NEW_ADULT, [U13]), Severity.MEDIUM),
        ("two 16-17s", victims(NEW_ADULT, [A16, A16]), Severity.MEDIUM),
        ("five under-13s", victims(NEW_ADULT, [U13] * 5), Severity.CRITICAL),
    ],
)
def test_fast_escalations_reach_their_severity(
    case: str, events: list[Event], expected: Severity
) -> None:
    alerts = run(events)
    assert top(alerts) is expected, case
    last = alerts[-1]
    assert last.subject.kind is SubjectKind.ACCOUNT and last.detector == "sextortion_velocity"
    assert len({a.alert_id for a in alerts}) == 1, "one case, updated, not a flood"


@pytest.mark.parametrize(
    ("case", "events"),
    [
        ("one 13-15 only", victims(NEW_ADULT, [A13])),
        ("near peers: 18-20 with 16-17s", victims(account("u-y", AgeBand.AGE_18_20), [A16] * 4)),
        ("adults with adults", victims(NEW_ADULT, [AgeBand.AGE_21_PLUS] * 4)),
        ("unknown-age targets", victims(NEW_ADULT, [AgeBand.UNKNOWN] * 4)),
        ("minors with minors", victims(account("u-k", A13), [U13] * 4)),
        ("established pairs (flag false)", victims(NEW_ADULT, [U13] * 4, first=False)),
        ("slow chats: 15 messages over 2 h", victims(NEW_ADULT, [U13] * 4, spacing_ms=9 * MIN)),
        ("no media", victims(NEW_ADULT, [U13] * 4, media=0)),
        ("one media each", victims(NEW_ADULT, [U13] * 4, media=1)),
        ("few messages", victims(NEW_ADULT, [U13] * 4, n=9)),
    ],
)
def test_look_alikes_do_not_alert(case: str, events: list[Event]) -> None:
    assert run(events) == [], case


def test_pairs_remembered_from_earlier_days_are_not_new() -> None:
    kids = [minor(f"m-{i}", U13) for i in range(4)]
    hello = [message(NEW_ADULT, k, T0 - 3 * DAY + i * MIN) for i, k in enumerate(kids)]
    chats = [e for i, k in enumerate(kids) for e in escalate(NEW_ADULT, k, T0 + i * 40 * MIN)]
    assert run(hello + chats) == []


def test_platform_flag_overrides_memory() -> None:
    kids = [minor(f"m-{i}", U13) for i in range(2)]
    hello = [message(NEW_ADULT, k, T0 - DAY) for k in kids]
    chats = [
        e for i, k in enumerate(kids) for e in escalate(NEW_ADULT, k, T0 + i * 40 * MIN, first=True)
    ]
    assert top(run(hello + chats)) is Severity.HIGH


def test_reason_and_features_carry_numbers_and_thresholds() -> None:
    detector = SextortionVelocityDetector()
    state = detector.new_state()
    events = victims(NEW_ADULT, [U13, A13, U13])
    steps = [
        (e, detector.step(state, Subject(SubjectKind.ACCOUNT, NEW_ADULT.id), e).finding)
        for e in events
    ]
    trigger, last = [(e, f) for e, f in steps if f is not None][-1]
    assert trigger is events[-2], "the third chat escalates on its 14th message (2nd media)"
    assert last is not None and last.severity is Severity.HIGH
    assert last.reason == (
        "Adult (21+), anonymous, new account sent 10+ messages and 2+ images or videos within "
        "30 min of first contact to 3 minors (2 under 13) within 24 h (weighted 5, an under-13 "
        "counts 2; high at 3)."
    )
    f = last.features
    assert (f["escalated_minors"], f["escalated_under_13"], f["weighted_escalations"]) == (3, 2, 5)
    assert f["max_messages_to_one_minor"] == 15 and f["media_sent"] == 3 + 3 + 2
    assert f["threshold_high"] == 3 and f["threshold_min_messages"] == 10
    assert last.counterparts == ("m-0", "m-1", "m-2") and last.minors_exposed == 3
    assert len(last.evidence_event_ids) == 6
    assert last.window_start_ms == T0 and last.window_end_ms == trigger.ts_ms


def test_escalations_older_than_the_window_are_forgotten() -> None:
    a, b = minor("m-a", U13), minor("m-b", A13)
    events = escalate(NEW_ADULT, a, T0) + escalate(NEW_ADULT, b, T0 + 25 * HOUR)
    alerts = run(events)
    assert top(alerts) is Severity.MEDIUM  # m-a alone; m-b joins after m-a left the window


def test_a_few_escalations_a_day_add_up_over_the_week() -> None:
    # One 13-15 a day, 25 h apart: never two inside a day (nothing by the day's count). The
    # week counts them: three are nothing yet, the fourth within 7 days reaches slow_high (4).
    cfg = SextortionVelocityConfig()
    days = [escalate(NEW_ADULT, minor(f"m-{d}", A13), T0 + d * 25 * HOUR) for d in range(4)]
    assert run([e for day in days[:3] for e in day]) == []
    alerts = run([e for day in days for e in day])
    assert [a.severity for a in alerts] == [Severity.HIGH]
    f = alerts[0].features
    assert f["escalated_minors"] == cfg.slow_high and f["window_hours"] == 7 * 24
    assert alerts[0].window_start_ms == T0
    assert "to 4 minors (0 under 13) within 168 h" in alerts[0].reason
    # The same four spread so that no seven days hold more than three: nothing.
    spread = [escalate(NEW_ADULT, minor(f"m-{d}", A13), T0 + d * 60 * HOUR) for d in range(4)]
    assert run([e for day in spread for e in day]) == []


def test_state_round_trips_through_its_serialised_form() -> None:
    events = sorted(victims(NEW_ADULT, [U13, A13, A13, U13]), key=lambda e: (e.ts_ms, e.event_id))
    straight = run(events)
    for cut in (12, 20, 37):  # inside an open chat, right after escalating, later
        engine = Engine([SextortionVelocityDetector()])
        alerts = [a for e in events[:cut] for a in engine.process(e)]
        saved = {k: engine.dump(k) for k in engine.subjects}
        restored = Engine([SextortionVelocityDetector()], loader=saved.get)
        alerts += [a for e in events[cut:] for a in restored.process(e)]
        assert [(a.alert_id, a.revision, a.features) for a in alerts] == [
            (a.alert_id, a.revision, a.features) for a in straight
        ]


def test_a_reply_in_an_old_chat_costs_no_state_write() -> None:
    detector = SextortionVelocityDetector()
    state = detector.new_state()
    kid = minor("m-0", A13)
    assert detector.step(
        state, Subject(SubjectKind.ACCOUNT, NEW_ADULT.id), message(NEW_ADULT, kid, T0)
    ).changed
    later = message(NEW_ADULT, kid, T0 + 2 * HOUR, first=False)
    assert not detector.step(state, Subject(SubjectKind.ACCOUNT, NEW_ADULT.id), later).changed


def test_expiry_forgets_everything_after_the_horizon() -> None:
    detector = SextortionVelocityDetector()
    state = detector.new_state()
    for e in victims(NEW_ADULT, [U13, A13]):
        detector.step(state, Subject(SubjectKind.ACCOUNT, NEW_ADULT.id), e)
    assert not detector.expire(state, T0 + 2 * HOUR)
    assert detector.expire(state, T0 + detector.horizon_ms() + DAY)


def test_defaults_file_matches_the_config_class() -> None:
    with DEFAULTS_PATH.open("rb") as fh:
        section = dict(tomllib.load(fh)["detectors"]["sextortion_velocity"])
    section.pop("mode")
    assert section == dataclasses.asdict(SextortionVelocityConfig())
