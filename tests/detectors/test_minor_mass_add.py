"""minor_mass_add on hand-made sequences and properties, through the engine where it matters."""

from __future__ import annotations

import dataclasses
import tomllib

import pytest

from streams.config import DEFAULTS_PATH
from streams.detectors.minor_mass_add import MinorMassAddConfig, MinorMassAddDetector
from streams.detectors.new_contact_burst import NewContactBurstDetector
from streams.engine.core import Engine
from streams.model import Account, AgeBand, Alert, Event, EventType, Severity, Subject, SubjectKind
from tests.factories import HOUR, MIN, T0, account, adult, minor, top

DAY = 24 * HOUR
OLD = T0 - 900 * DAY  # an established account's creation time


def add(actor: Account, target: Account, ts: int, group: str | None = None, eid: str = "") -> Event:
    """A group add when `group` is given, else a contact add."""
    return Event(
        event_id=eid or f"a-{ts}-{target.id}-{group}",
        type=EventType.GROUP_MEMBER_ADDED if group else EventType.CONTACT_ADDED,
        ts_ms=ts,
        actor=actor,
        target=target,
        group_id=group,
    )


def run(events: list[Event], config: MinorMassAddConfig | None = None) -> list[Alert]:
    engine = Engine([MinorMassAddDetector(config)])
    return [
        a for e in sorted(events, key=lambda e: (e.ts_ms, e.event_id)) for a in engine.process(e)
    ]


def mass_add(
    actor: Account,
    n: int,
    groups: int,
    *,
    contacts: int = 0,
    band: AgeBand = AgeBand.AGE_13_15,
    spacing_ms: int = MIN,
) -> list[Event]:
    """n minors added round-robin to `groups` groups (none: contacts only); the first
    `contacts` of them also added as contacts."""
    kids = [minor(f"m-{i}", band) for i in range(n)]
    out = []
    for i, kid in enumerate(kids):
        ts = T0 + i * spacing_ms
        if groups:
            out.append(add(actor, kid, ts, f"g-{i % groups}"))
        if i < contacts or not groups:
            out.append(add(actor, kid, ts + 1_000))
    return out


VERIFIED = adult(created_ts_ms=OLD)


@pytest.mark.parametrize(
    ("case", "events", "expected"),
    [
        ("40 over 4 groups: the count alone", mass_add(VERIFIED, 40, 4), Severity.HIGH),
        (
            "12 in one group, all also as contacts",
            mass_add(VERIFIED, 12, 1, contacts=12),
            Severity.HIGH,
        ),
        ("one group, anonymous", mass_add(adult(anonymous=True), 25, 1), Severity.HIGH),
        ("one group, 1-day-old", mass_add(adult(created_ts_ms=T0 - DAY), 25, 1), Severity.HIGH),
        ("one group, 5 contacts", mass_add(VERIFIED, 18, 1, contacts=5), Severity.HIGH),
        (
            "unknown-age, anonymous actor",
            mass_add(account("u-x", AgeBand.UNKNOWN, anonymous=True), 20, 3),
            Severity.HIGH,
        ),
        (
            "a new 'teen' account: newness is a sign at any declared age",
            mass_add(account("u-t", AgeBand.AGE_16_17, created_ts_ms=T0 - DAY), 20, 3),
            Severity.HIGH,
        ),
        (
            "60 minors over 5 groups, anonymous",
            mass_add(adult(anonymous=True), 60, 5),
            Severity.CRITICAL,
        ),
        ("60 minors over 5 groups, verified", mass_add(VERIFIED, 60, 5), Severity.HIGH),
        ("12 minors over 3 groups", mass_add(VERIFIED, 12, 3), Severity.MEDIUM),
    ],
)
def test_mass_adds_reach_their_severity(case: str, events: list[Event], expected: Severity) -> None:
    alerts = run(events)
    assert top(alerts) is expected, case
    last = alerts[-1]
    assert last.subject.kind is SubjectKind.ACCOUNT and last.detector == "minor_mass_add"
    assert last.minors_exposed == last.features["distinct_minors_added"]
    assert len({a.alert_id for a in alerts}) == 1, "one case, updated, not a flood"


@pytest.mark.parametrize(
    ("case", "events"),
    [
        ("teacher: class of 35 in one group", mass_add(VERIFIED, 35, 1)),
        ("teacher: a class split over 4 groups", mass_add(VERIFIED, 30, 4)),
        ("coach: two teams in two groups", mass_add(VERIFIED, 36, 2, band=AgeBand.UNDER_13)),
        (
            "student organiser: 40 schoolmates and 10 contacts",
            mass_add(account("u-k", AgeBand.AGE_13_15, created_ts_ms=OLD), 40, 4, contacts=10),
        ),
    ],
)
def test_teacher_adding_a_class_to_one_group_stays_medium(case: str, events: list[Event]) -> None:
    alerts = run(events)
    assert top(alerts) is Severity.MEDIUM, case
    assert "not high" in alerts[-1].reason
    assert all(a.score < 0.5 for a in alerts)


@pytest.mark.parametrize(
    ("case", "actor", "band"),
    [
        ("near peers: 18-20 adding 16-17s", account("u-y", AgeBand.AGE_18_20), AgeBand.AGE_16_17),
        ("adult adding adults", VERIFIED, AgeBand.AGE_21_PLUS),
        ("unknown-age targets are not minors", VERIFIED, AgeBand.UNKNOWN),
    ],
)
def test_look_alikes_do_not_alert(case: str, actor: Account, band: AgeBand) -> None:
    assert run(mass_add(actor, 40, 4, contacts=10, band=band)) == [], case


def test_contact_adds_alone_are_first_contacts_for_new_contact_burst_not_mass_adds() -> None:
    """One event, one detector: 40 minors contact-added in 40 min is new_contact_burst's case
    (CRITICAL on its own count), and minor_mass_add says nothing, so no cross-detector
    escalation rests on the same contact adds."""
    events = mass_add(adult(anonymous=True), 40, 0)
    assert run(events) == []
    engine = Engine([MinorMassAddDetector(), NewContactBurstDetector()])
    alerts = [a for e in events for a in engine.process(e)]
    assert {a.detector for a in alerts} == {"new_contact_burst"}
    assert not any(a.detectors_on_subject for a in alerts)


def test_a_contact_add_before_the_group_add_still_weighs() -> None:
    kids = [minor(f"m-{i}") for i in range(10)]
    events = [add(VERIFIED, k, T0 + i * MIN) for i, k in enumerate(kids)]  # contacts first
    events += [add(VERIFIED, k, T0 + HOUR + i * MIN, f"g-{i % 3}") for i, k in enumerate(kids)]
    f = run(events)[-1].features
    assert f["minors_added_as_contacts"] == 10 and f["weighted_minors"] == 20


def test_adds_paced_under_the_window_add_up_over_days_with_a_risk_sign() -> None:
    # One minor every 40 min to 4 groups: at most 9 inside any 6 h window, 60 in 40 h.
    paced = run(mass_add(adult(anonymous=True), 60, 4, spacing_ms=40 * MIN))
    assert top(paced) is Severity.HIGH
    assert paced[-1].features["weighted_minors"] <= 9  # the 6 h window never got there
    assert paced[-1].features["weighted_minors_slow"] >= 36
    assert "Over 72 h: " in paced[-1].reason
    # The same pace from a verified, established account stays MEDIUM.
    assert top(run(mass_add(VERIFIED, 60, 4, spacing_ms=40 * MIN))) is Severity.MEDIUM
    # And one every 2 h never reaches the slow threshold either: nothing.
    assert run(mass_add(adult(anonymous=True), 30, 4, spacing_ms=2 * HOUR)) == []


def test_a_minor_added_to_a_group_and_as_a_contact_counts_once_with_the_contact_weight() -> None:
    alerts = run(mass_add(VERIFIED, 10, 3, contacts=10))
    f = alerts[-1].features
    assert f["distinct_minors_added"] == 10 and f["minors_added_as_contacts"] == 10
    assert f["weighted_minors"] == 20 and alerts[-1].severity is Severity.HIGH


def test_reason_and_features_carry_numbers_and_thresholds() -> None:
    detector, actor = MinorMassAddDetector(), adult(anonymous=True, created_ts_ms=OLD)
    state = detector.new_state()
    findings = [
        detector.step(state, Subject(SubjectKind.ACCOUNT, actor.id), e).finding
        for e in mass_add(actor, 24, 4)
    ]
    last = findings[-1]
    assert last is not None and last.severity is Severity.HIGH
    assert last.reason == (
        "Adult (21+), anonymous account added 24 minors within 6 h, to 4 group(s) and "
        "0 as contacts (weighted count 24; high at 20 with a risk sign)."
    )
    assert last.features["distinct_groups"] == 4 and last.features["threshold_high"] == 20
    assert last.features["threshold_high_without_sign"] == 40
    assert last.features["actor_anonymous"] == 1
    assert last.minors_exposed == 24
    assert len(last.evidence_event_ids) == len(last.counterparts) == 24


def test_state_round_trips_through_its_serialised_form() -> None:
    events = sorted(mass_add(VERIFIED, 30, 3, contacts=6), key=lambda e: (e.ts_ms, e.event_id))
    straight = run(events)
    engine = Engine([MinorMassAddDetector()])
    alerts = [a for e in events[:15] for a in engine.process(e)]
    saved = {k: engine.dump(k) for k in engine.subjects}
    restored = Engine([MinorMassAddDetector()], loader=saved.get)
    alerts += [a for e in events[15:] for a in restored.process(e)]
    assert [(a.alert_id, a.revision, a.severity) for a in alerts] == [
        (a.alert_id, a.revision, a.severity) for a in straight
    ]


def test_expiry_forgets_everything_after_the_window() -> None:
    detector = MinorMassAddDetector()
    state = detector.new_state()
    for e in mass_add(VERIFIED, 5, 2, contacts=2):
        detector.step(state, Subject(SubjectKind.ACCOUNT, VERIFIED.id), e)
    assert not detector.expire(state, T0 + HOUR)
    assert detector.expire(state, T0 + detector.horizon_ms() + HOUR)


def test_defaults_file_matches_the_config_class() -> None:
    with DEFAULTS_PATH.open("rb") as fh:
        section = dict(tomllib.load(fh)["detectors"]["minor_mass_add"])
    section.pop("mode")
    assert section == dataclasses.asdict(MinorMassAddConfig())


def block(blocker: Account, blocked: Account, ts: int, report: bool = False) -> Event:
    return Event(
        event_id=f"b-{ts}-{blocker.id}",
        type=EventType.REPORTED if report else EventType.BLOCKED,
        ts_ms=ts,
        actor=blocker,
        target=blocked,
    )


def test_minors_it_added_who_block_or_report_it_are_a_risk_sign() -> None:
    """A verified adult adding 25 children to one group is a teacher by count (MEDIUM); three
    of those children blocking or reporting it afterwards make it HIGH, on the third one."""
    adds = mass_add(VERIFIED, 25, 1)
    kids = [e.target for e in adds if e.target is not None]
    after = T0 + 2 * HOUR
    turned = [block(kids[0], VERIFIED, after), block(kids[1], VERIFIED, after + MIN, report=True)]
    assert top(run(adds + turned)) is Severity.MEDIUM
    third = block(kids[2], VERIFIED, after + 2 * MIN)
    alerts = run([*adds, *turned, third])
    assert top(alerts) is Severity.HIGH
    last = alerts[-1]
    assert last.trigger_ts_ms == third.ts_ms
    assert last.subject == Subject(SubjectKind.ACCOUNT, VERIFIED.id)
    assert last.features["minors_who_blocked_or_reported"] == 3.0
    assert third.event_id in last.evidence_event_ids


def test_blocks_by_children_it_never_added_are_not_its_pushback() -> None:
    adds = mass_add(VERIFIED, 25, 1)
    strangers = [minor(f"s-{i}") for i in range(5)]
    turned = [block(s, VERIFIED, T0 + 2 * HOUR + i * MIN) for i, s in enumerate(strangers)]
    assert top(run(adds + turned)) is Severity.MEDIUM
    # A block between two minors reaches the blocked minor's account only, never the adder.
    detector = MinorMassAddDetector()
    assert list(detector.subject_keys(block(strangers[0], strangers[1], T0))) == ["ACCOUNT:s-1"]
    assert list(detector.subject_keys(block(VERIFIED, strangers[1], T0))) == []
