"""new_contact_burst on hand-made sequences, through the engine (as stream and backtest run it)."""

from __future__ import annotations

import pytest

from streams.detectors.new_contact_burst import NewContactBurstConfig, NewContactBurstDetector
from streams.engine.core import Engine
from streams.model import AgeBand, Event, Severity, Subject, SubjectKind
from tests.factories import HOUR, MIN, T0, account, adult, message, minor


def run(events: list[Event], config: NewContactBurstConfig | None = None) -> list:
    engine = Engine([NewContactBurstDetector(config)])
    out = []
    for ev in sorted(events, key=lambda e: (e.ts_ms, e.event_id)):
        out.extend(engine.process(ev))
    return out


def burst(actor, n: int, spacing_ms: int, *, band=AgeBand.AGE_13_15, first=None) -> list[Event]:
    return [
        message(actor, minor(f"m-{i}", band), T0 + i * spacing_ms, first=first) for i in range(n)
    ]


def test_fast_burst_of_first_contacts_to_minors_is_high() -> None:
    alerts = run(burst(adult(anonymous=True), 20, MIN))
    assert alerts, "a 20-minor burst in 20 minutes must alert"
    top = alerts[-1]
    assert top.severity is Severity.HIGH
    assert top.subject.kind is SubjectKind.ACCOUNT and top.subject.id == "u-adult"
    cfg = NewContactBurstConfig()
    assert top.features["distinct_minors_first_contacted_slow"] >= min(cfg.fast_high, cfg.slow_high)
    assert top.minors_exposed == top.features["distinct_minors_first_contacted_slow"]
    assert "first-contacted" in top.reason and "anonymous" in top.reason
    assert len({a.alert_id for a in alerts}) == 1, "one case, updated, not a flood"
    assert [a.revision for a in alerts] == sorted(a.revision for a in alerts)


def test_slow_burst_over_a_day_is_high() -> None:
    alerts = run(burst(adult(), 20, 80 * MIN))  # 20 minors over ~25 h
    assert max(a.severity.rank for a in alerts) == Severity.HIGH.rank
    slow_high = NewContactBurstConfig().slow_high
    assert alerts[-1].features["distinct_minors_first_contacted_slow"] >= slow_high
    assert alerts[-1].features["distinct_minors_first_contacted_fast"] < slow_high


@pytest.mark.parametrize(
    ("actor_band", "target_band"),
    [
        (AgeBand.AGE_13_15, AgeBand.AGE_13_15),  # minors among themselves: other detectors' job
        (AgeBand.AGE_18_20, AgeBand.AGE_16_17),  # near peers
        (AgeBand.AGE_21_PLUS, AgeBand.AGE_21_PLUS),  # adult onboarding adult colleagues
        (AgeBand.AGE_21_PLUS, AgeBand.UNKNOWN),  # unknown targets are not counted as minors
    ],
)
def test_look_alikes_do_not_alert(actor_band: AgeBand, target_band: AgeBand) -> None:
    assert run(burst(account("u-x", actor_band), 40, MIN, band=target_band)) == []


def test_unknown_age_actor_counts_as_adult() -> None:
    alerts = run(burst(account("u-x", AgeBand.UNKNOWN), 20, MIN))
    assert alerts and alerts[-1].severity is Severity.HIGH


def test_platform_first_contact_false_is_trusted() -> None:
    assert run(burst(adult(), 30, MIN, first=False)) == []


def test_repeat_contacts_count_once_and_memory_decides_when_flag_absent() -> None:
    a = adult()
    kids = [minor(f"m-{i}") for i in range(5)]
    events = [message(a, k, T0 + r * HOUR + i * MIN) for r in range(6) for i, k in enumerate(kids)]
    assert run(events) == [], "talking again and again to 5 minors is not a burst"


def test_pairs_forgotten_after_memory_count_again() -> None:
    cfg = NewContactBurstConfig(
        pair_memory_ms=2 * HOUR, slow_window_ms=3 * HOUR, fast_medium=3, fast_high=5
    )
    a = adult()
    kids = [minor(f"m-{i}") for i in range(5)]
    early = [message(a, k, T0 + i * MIN) for i, k in enumerate(kids)]
    again = [message(a, k, T0 + 10 * HOUR + i * MIN) for i, k in enumerate(kids)]
    detector = NewContactBurstDetector(cfg)
    state = detector.new_state()
    findings = [
        detector.step(state, Subject(SubjectKind.ACCOUNT, a.id), e).finding for e in early + again
    ]
    assert findings[4] is not None and findings[9] is not None
    assert findings[9].window_end_ms >= T0 + 10 * HOUR


def test_replayed_events_change_nothing() -> None:
    events = burst(adult(), 20, MIN)
    engine = Engine([NewContactBurstDetector()])
    first = [a for e in events for a in engine.process(e)]
    second = [a for e in events for a in engine.process(e)]
    assert first and second == []
    assert engine.stats.skipped_replays == len(events)


def test_state_round_trips_through_its_serialised_form() -> None:
    events = burst(adult(), 20, MIN)
    straight = run(events)
    engine = Engine([NewContactBurstDetector()])
    alerts = [a for e in events[:10] for a in engine.process(e)]
    saved = {k: engine.dump(k) for k in engine.subjects}
    restored = Engine([NewContactBurstDetector()], loader=saved.get)
    alerts += [a for e in events[10:] for a in restored.process(e)]
    assert [(a.alert_id, a.revision) for a in alerts] == [
        (a.alert_id, a.revision) for a in straight
    ]
