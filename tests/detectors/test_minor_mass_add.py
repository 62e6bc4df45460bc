"""minor_mass_add on hand-made sequences and properties, through the engine where it matters."""

from __future__ import annotations

import dataclasses
import json
import tomllib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.config import DEFAULTS_PATH
from streams.detectors.minor_mass_add import MinorMassAddConfig, MinorMassAddDetector
from streams.engine.core import Engine
from streams.engine.reorder import ReorderBuffer
from streams.model import Account, AgeBand, Alert, Event, EventType, Severity, Subject, SubjectKind
from tests.factories import HOUR, MIN, T0, account, adult, minor

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


def top(alerts: list[Alert]) -> Severity | None:
    return max((a.severity for a in alerts), key=lambda s: s.rank, default=None)


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
        ("spread over 4 groups", mass_add(VERIFIED, 20, 4), Severity.HIGH),
        ("12 minors added as contacts", mass_add(VERIFIED, 12, 0), Severity.HIGH),
        ("one group, anonymous", mass_add(adult(anonymous=True), 25, 1), Severity.HIGH),
        ("one group, 1-day-old", mass_add(adult(created_ts_ms=T0 - DAY), 25, 1), Severity.HIGH),
        ("one group, 5 contacts", mass_add(VERIFIED, 18, 1, contacts=5), Severity.HIGH),
        ("unknown-age actor", mass_add(account("u-x", AgeBand.UNKNOWN), 20, 3), Severity.HIGH),
        (
            "under-13s over 3 groups",
            mass_add(VERIFIED, 20, 3, band=AgeBand.UNDER_13),
            Severity.HIGH,
        ),
        ("60 minors over 5 groups", mass_add(VERIFIED, 60, 5), Severity.CRITICAL),
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
        ("coach: two teams in two groups", mass_add(VERIFIED, 36, 2, band=AgeBand.UNDER_13)),
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
        ("minors adding minors", account("u-k", AgeBand.AGE_13_15), AgeBand.AGE_13_15),
    ],
)
def test_look_alikes_do_not_alert(case: str, actor: Account, band: AgeBand) -> None:
    assert run(mass_add(actor, 40, 4, contacts=10, band=band)) == [], case


def test_adds_spread_beyond_the_window_do_not_add_up() -> None:
    # One minor every 40 min to 4 groups: at most 9 inside any 6 h window.
    assert run(mass_add(VERIFIED, 60, 4, spacing_ms=40 * MIN)) == []


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
    assert last.features["threshold_spread_groups"] == 3 and last.features["actor_anonymous"] == 1
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


# --- properties ------------------------------------------------------------------------------

SMALL = MinorMassAddConfig(window_ms=HOUR, medium=3, high=5, new_account_ms=0, max_minors=8)
ACTORS = (
    adult("u-a", created_ts_ms=OLD),
    adult("u-b", anonymous=True),
    account("u-c", AgeBand.UNKNOWN),
)
KIDS = tuple(minor(f"m-{i}", band) for i, band in enumerate(list(AgeBand)[:3] * 4))

steps = st.lists(
    st.tuples(
        st.sampled_from([0, 500, 3_000, 20_000, 5 * MIN, 40 * MIN]),  # gap to the previous
        st.integers(0, len(ACTORS) - 1),
        st.integers(0, len(KIDS) - 1),
        st.sampled_from([None, "g-1", "g-2", "g-3"]),
    ),
    min_size=1,
    max_size=80,
)


def build(raw: list[tuple[int, int, int, str | None]]) -> list[Event]:
    ts, out = T0, []
    for i, (gap, a, k, group) in enumerate(raw):
        ts += gap
        out.append(add(ACTORS[a], KIDS[k], ts, group, eid=f"e-{i:04d}"))
    return out


def through_buffer(events: list[Event], lateness_ms: int) -> list[Alert]:
    engine = Engine([MinorMassAddDetector(SMALL)])
    buffer: ReorderBuffer[Event] = ReorderBuffer(lateness_ms)
    alerts: list[Alert] = []
    for event in events:
        buffer.push(event.ts_ms, event.event_id, event)
        alerts += [a for e in buffer.release() for a in engine.process(e)]
    return alerts + [a for e in buffer.drain() for a in engine.process(e)]


@settings(max_examples=60, deadline=None)
@given(raw=steps, data=st.data())
def test_shuffling_within_the_lateness_gives_the_same_alerts(
    raw: list, data: st.DataObject
) -> None:
    lateness = 5_000
    events = build(raw)
    n = len(events)
    jitter = data.draw(st.lists(st.integers(0, lateness - 1), min_size=n, max_size=n))
    # Arrival order by ts + jitter: an event never arrives after one more than L newer.
    keyed = sorted((e.ts_ms + j, i, e) for i, (e, j) in enumerate(zip(events, jitter, strict=True)))
    arrived = [e for _, _, e in keyed]
    assert through_buffer(arrived, lateness) == through_buffer(events, lateness)
    assert through_buffer(events, lateness) == run(events, SMALL)


@settings(max_examples=60, deadline=None)
@given(raw=steps)
def test_replaying_the_same_events_changes_nothing(raw: list) -> None:
    events = build(raw)
    engine = Engine([MinorMassAddDetector(SMALL)])
    first = [(a.alert_id, a.revision) for e in events for a in engine.process(e)]
    second = [(a.alert_id, a.revision) for e in events for a in engine.process(e)]
    assert second == [] and len(first) == len(set(first))
    assert engine.stats.skipped_replays == len(events)


@settings(max_examples=3, deadline=None)
@given(spacing_ms=st.sampled_from([1_000, 4_000, MIN, 7 * MIN]), groups=st.integers(1, 200))
def test_state_stays_bounded(spacing_ms: int, groups: int) -> None:
    detector = MinorMassAddDetector()
    state = detector.new_state()
    actor = adult(anonymous=True)
    largest = 0
    for i in range(5_000):
        kid = minor(f"m-{i:05d}")
        detector.step(
            state,
            Subject(SubjectKind.ACCOUNT, actor.id),
            add(actor, kid, T0 + i * spacing_ms, f"g-{i % groups}"),
        )
        detector.step(
            state, Subject(SubjectKind.ACCOUNT, actor.id), add(actor, kid, T0 + i * spacing_ms + 1)
        )
        if i % 250 == 0:
            largest = max(largest, len(json.dumps(detector.dump(state))))
    assert 0 < largest < 40_000
