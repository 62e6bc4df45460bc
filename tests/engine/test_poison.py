"""Poison events: a step that raises leaves its subject as before the event, in the engine,
the backtest and the in-memory stream alike, and the rest of the alerts are unchanged."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams import topics
from streams.adapters.memory import MemoryAdapter, MemoryLog
from streams.backtest import run_backtest
from streams.codec import decode_alert, decode_dead_letter, decode_event, encode_event
from streams.config import load_config
from streams.detectors.contract import Detector
from streams.detectors.new_contact_burst import NewContactBurstDetector
from streams.engine.core import Engine, EngineConfig
from streams.model import Alert, Event
from tests.detectors.properties import CASES, PropertyCase
from tests.factories import MIN, T0, adult, message, minor
from tests.poison import failing_step


class SkippingEngine(Engine):
    """The oracle: a poisoned event never reaches a subject its failing detector is routed to
    (no step runs there at all); everything else as usual."""

    def __init__(
        self,
        detectors: Sequence[Detector],
        failing: str,
        ids: Iterable[str],
        config: EngineConfig | None = None,
        shadow: Iterable[str] = (),
    ) -> None:
        super().__init__(detectors, config, shadow=shadow)
        self.failing, self.ids, self.skips = failing, frozenset(ids), 0

    def _apply(
        self, key: str, detectors: Iterable[Detector], event: Event, alerts: list[Alert]
    ) -> None:
        detectors = list(detectors)
        if event.event_id in self.ids and any(d.name == self.failing for d in detectors):
            self.skips += 1
            return
        super()._apply(key, detectors, event, alerts)


def unstamped(alerts: list[Alert]) -> list[Alert]:
    return [dataclasses.replace(a, emitted_at_ms=0) for a in alerts]


def states(engine: Engine, keys: Iterable[str]) -> dict[str, bytes | None]:
    return {key: engine.dump(key) for key in keys}


@pytest.mark.parametrize("case", CASES, ids=repr)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_a_failing_step_is_as_if_the_event_never_reached_that_subject(
    case: PropertyCase, data: st.DataObject
) -> None:
    events = sorted(data.draw(case.streams, label="events"), key=lambda e: (e.ts_ms, e.event_id))
    ids = data.draw(st.sets(st.sampled_from([e.event_id for e in events])), label="poisoned")
    detector = case.detector()
    oracle = SkippingEngine([detector], detector.name, ids)
    expected = oracle.process_all(events)
    engine = Engine([detector])
    with failing_step(detector.name, ids):
        got = engine.process_all(events)
    assert got == expected
    keys = set(oracle.subjects) | set(engine.subjects)
    assert states(engine, keys) == states(oracle, keys)
    assert engine.stats.failed == oracle.skips == len(engine.failures)
    assert all(f.detector == detector.name and f.error == "PlantedFailure" for f in engine.failures)


def burst() -> list[Event]:
    """An anonymous adult first-contacting 30 minors, one a minute."""
    attacker = adult("u-attacker", anonymous=True)
    return [message(attacker, minor(f"m-{i}"), T0 + i * MIN, eid=f"p-{i:02d}") for i in range(30)]


def logged(events: list[Event]) -> MemoryLog:
    """The events on an in-memory input topic, keyed as a producer would."""
    log = MemoryLog()
    for event in events:
        log.append(topics.EVENTS.name, event.actor.id.encode(), encode_event(event))
    return log


POISONED = ("p-03", "p-04", "p-10", "p-11", "p-12", "p-20")  # two in a row, three in a row


def test_the_other_detectors_on_the_subject_lose_the_event_too() -> None:
    """minor_exposure shares the attacker's subject: its steps on the poisoned events are
    undone too. Every detector here keys these messages by the attacker only, so the oracle is
    the backtest of the burst without the poisoned events."""
    without = [e for e in burst() if e.event_id not in POISONED]
    expected = run_backtest(without, load_config())
    with failing_step(NewContactBurstDetector.name, POISONED):
        poisoned = run_backtest(burst(), load_config())
    assert unstamped(poisoned) == unstamped(expected)
    assert {a.detector for a in expected} >= {"minor_exposure", "new_contact_burst"}
    assert unstamped(expected) != unstamped(run_backtest(burst(), load_config()))  # it mattered


def test_the_in_memory_stream_dead_letters_each_failure_and_matches_the_backtest() -> None:
    events = burst()
    log = logged(events)
    config = load_config()
    with failing_step(NewContactBurstDetector.name, POISONED):
        expected = run_backtest(events, config)
        adapter = MemoryAdapter(config, log, batch_size=7)  # failures mid-batch and across
        adapter.run()
    got = [decode_alert(v) for _k, v in log.records(topics.ALERTS.name)]
    assert unstamped(got) == unstamped(expected)
    letters = [decode_dead_letter(v) for _k, v in log.records(topics.DEAD_LETTER.name)]
    assert sorted(decode_event(d.original_value).event_id for d in letters) == list(POISONED)
    for letter in letters:
        assert letter.reason_code == "processing_error"
        assert letter.source_topic == topics.ROUTED.name
        assert "new_contact_burst" in letter.reason and "PlantedFailure" in letter.reason
        assert "u-attacker" not in letter.reason  # the exception's message (an id) stays out
        assert letter.original_key == b"u-attacker"
    assert adapter.pipeline.totals["dead_letters"] == len(POISONED)


def test_a_detector_failing_to_route_dead_letters_the_input_record() -> None:
    events = burst()[:5]
    log = logged(events)
    original = NewContactBurstDetector.subject_keys

    def subject_keys(self: NewContactBurstDetector, event: Event) -> Iterable[str]:
        if event.event_id == "p-02":
            raise KeyError(event.actor.id)
        return original(self, event)

    NewContactBurstDetector.subject_keys = subject_keys  # type: ignore[method-assign]
    try:
        engine = load_config().new_engine()
        engine.process_all(events)
        adapter = MemoryAdapter(load_config(), log)
        adapter.run()
    finally:
        NewContactBurstDetector.subject_keys = original  # type: ignore[method-assign]
    assert [(f.key, f.event.event_id, f.error) for f in engine.failures] == [
        ("", "p-02", "KeyError")
    ]
    letters = [decode_dead_letter(v) for _k, v in log.records(topics.DEAD_LETTER.name)]
    assert [(d.reason_code, d.source_topic) for d in letters] == [
        ("processing_error", topics.EVENTS.name)
    ]
    assert letters[0].original_value == encode_event(events[2])
    assert "while routing it" in letters[0].reason and "u-attacker" not in letters[0].reason


@settings(max_examples=15, deadline=None)
@given(
    ids=st.sets(st.sampled_from([f"p-{i:02d}" for i in range(30)]), max_size=8),
    batch=st.integers(1, 40),
)
def test_the_in_memory_stream_equals_the_backtest_whatever_fails_and_however_batched(
    ids: set[str], batch: int
) -> None:
    """Rebuilds from the store plus the batch's earlier events (stream) and from the events
    before (backtest) give the same alerts, for any poisoned set and batch size."""
    events = burst()
    log = logged(events)
    config = load_config()
    with failing_step(NewContactBurstDetector.name, ids):
        expected = run_backtest(events, config)
        MemoryAdapter(config, log, batch_size=batch).run()
    assert unstamped([decode_alert(v) for _k, v in log.records(topics.ALERTS.name)]) == unstamped(
        expected
    )
    assert len(log.records(topics.DEAD_LETTER.name)) == len(ids)


def test_a_one_shot_input_rebuilds_from_its_history() -> None:
    """A streaming backtest hands `process_all` an iterator and a way to read it again."""
    events = burst()
    with failing_step(NewContactBurstDetector.name, POISONED):
        from_list = load_config().new_engine().process_all(events)
        reads = []

        def history() -> Iterable[Event]:
            reads.append(1)
            return iter(events)

        from_iterator = load_config().new_engine().process_all(iter(events), history)
    assert from_iterator == from_list and len(reads) == len(POISONED)
