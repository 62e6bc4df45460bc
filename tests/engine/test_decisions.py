"""A moderator's clear: that detector is quiet on that subject for the configured time, the
next alert after it says so, other detectors carry on, and replaying it changes nothing."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.backtest import run_backtest
from streams.config import Mode, load_config
from streams.engine.decisions import decision_key, run_with_decisions
from streams.model import Action, Alert, Decision, Event
from tests.cases.builders import attack
from tests.engine.test_poison import SkippingEngine, unstamped
from tests.factories import HOUR, T0
from tests.poison import failing_step

DAY = 24 * HOUR
CONFIG = load_config()
SUPPRESS = CONFIG.engine.clear_suppression_ms
# Three bursts by one attacker, each to new children: one to clear, one inside the
# suppression, one after it (within a cooldown of its end).
FIRST = attack("u-a", 20, T0)
SECOND = attack("u-a", 40, T0 + 3 * HOUR)[20:]
THIRD = attack("u-a", 60, T0 + SUPPRESS + 12 * HOUR)[40:]
EVENTS = FIRST + SECOND + THIRD
DETECTOR = "minor_exposure"


def _clear(alerts: list[Alert], detector: str = DETECTOR, n: int = 1) -> Decision:
    case = [a for a in alerts if a.detector == detector][-1]  # the case as last published
    return Decision(
        f"d-{n}", case.alert_id, detector, case.subject, Action.CLEAR, case.trigger_ts_ms, 1
    )


def _of(alerts: list[Alert], detector: str, start: int, end: int) -> list[Alert]:
    return [a for a in alerts if a.detector == detector and start <= a.trigger_ts_ms < end]


def test_a_clear_silences_that_detector_on_that_subject_for_the_configured_time() -> None:
    clear = _clear(run_backtest(FIRST, CONFIG))
    plain = run_backtest(EVENTS, CONFIG)
    cleared = run_backtest(EVENTS, CONFIG, [clear])
    second = (SECOND[0].ts_ms, THIRD[0].ts_ms)
    assert _of(plain, DETECTOR, *second)  # without the clear it alerts in the second burst
    assert _of(cleared, DETECTOR, *second) == []
    assert _of(cleared, "new_contact_burst", *second)  # another detector is not silenced
    # Before the clear's effective time nothing changed.
    before = [a.alert_id for a in plain if a.trigger_ts_ms <= clear.effective_ts_ms]
    assert [a.alert_id for a in cleared if a.trigger_ts_ms <= clear.effective_ts_ms] == before
    after = _of(cleared, DETECTOR, THIRD[0].ts_ms, THIRD[-1].ts_ms + 1)
    assert after, "the detector speaks again once the suppression is over"
    assert after[0].alert_id != clear.alert_id and after[0].revision == 1  # a new case
    assert after[0].features["cleared_by_moderator"] == 1.0
    assert after[0].features["findings_suppressed_after_clear"] >= 1
    assert "cleared_by_moderator" not in {k for a in plain for k in a.features}


def test_confirm_and_escalate_change_no_alert() -> None:
    clear = _clear(run_backtest(FIRST, CONFIG))
    plain = [a.alert_id for a in run_backtest(EVENTS, CONFIG)]
    for action in (Action.CONFIRM, Action.ESCALATE):
        decision = Decision(
            "d-x", clear.alert_id, DETECTOR, clear.subject, action, clear.effective_ts_ms, 1
        )
        assert [a.alert_id for a in run_backtest(EVENTS, CONFIG, [decision])] == plain


def test_replaying_a_clear_changes_nothing() -> None:
    clear = _clear(run_backtest(FIRST, CONFIG))
    once = run_backtest(EVENTS, CONFIG, [clear])
    twice = run_backtest(EVENTS, CONFIG, [clear, clear])
    assert _ids(twice) == _ids(once)


def _ids(alerts: list[Alert]) -> list[tuple[str, int, str]]:
    return [(a.alert_id, a.revision, a.severity.value) for a in alerts]


@settings(max_examples=15, deadline=None)
@given(st.integers(1, len(EVENTS) - 1))
def test_a_restart_from_saved_state_gives_the_same_alerts(cut: int) -> None:
    """Suppressions travel with the subject's state: dump, load in a new engine, go on."""
    clear = _clear(run_backtest(FIRST, CONFIG))
    ordered = sorted(EVENTS, key=lambda e: (e.ts_ms, e.event_id))
    whole = run_with_decisions(CONFIG.new_engine(), ordered, [clear])
    first = CONFIG.new_engine()
    head = ordered[:cut]
    alerts = run_with_decisions(first, head, [clear] if _covers(head, clear) else [])
    saved = {k: v for k, v in first.take_dirty().items() if v is not None}
    second = CONFIG.new_engine(loader=saved.get)
    rest = ordered[len(head) :]
    alerts += run_with_decisions(second, rest, [] if _covers(head, clear) else [clear])
    assert _ids(alerts) == _ids(whole)


def _covers(head: list[Event], d: Decision) -> bool:
    """Whether the decision belongs before the cut (every event up to its time is in head)."""
    return bool(head) and head[-1].ts_ms > d.effective_ts_ms


def test_a_decision_goes_to_its_subjects_state() -> None:
    clear = _clear(run_backtest(FIRST, CONFIG))
    assert decision_key(clear) == f"ACCOUNT:{clear.subject.id}"


def test_a_subject_rebuilt_after_a_poison_event_keeps_its_moderators_clear() -> None:
    """A detector raising on an event inside the suppression rebuilds the subject from its
    history: the clear among that history must be applied again, or the rebuilt subject would
    alert where the moderator cleared it. Oracle: the same run where the poisoned event never
    reaches that detector's subject (tests/engine/test_poison.py's SkippingEngine)."""
    clear = _clear(run_backtest(FIRST, CONFIG))
    poisoned = {SECOND[5].event_id}
    shadow = {d.detector.name for d in CONFIG.detectors if d.mode is Mode.SHADOW}
    oracle = SkippingEngine(CONFIG.active(), DETECTOR, poisoned, CONFIG.engine, shadow)
    expected = run_with_decisions(oracle, sorted(EVENTS, key=_order), [clear])
    with failing_step(DETECTOR, poisoned):
        got = run_backtest(EVENTS, CONFIG, [clear])
    assert oracle.skips == 1
    assert unstamped(got) == unstamped(expected)
    assert _of(got, DETECTOR, SECOND[0].ts_ms, THIRD[0].ts_ms) == []


def _order(event: Event) -> tuple[int, str]:
    return event.ts_ms, event.event_id
