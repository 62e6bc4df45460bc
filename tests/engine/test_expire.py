"""Engine.expire: a detector's state goes with its window, even on a subject another detector
keeps alive, and dropping it changes no alert."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.detectors.minor_blocks_reports import (
    MinorBlocksReportsConfig,
    MinorBlocksReportsDetector,
)
from streams.detectors.new_contact_burst import NewContactBurstConfig, NewContactBurstDetector
from streams.engine.core import Engine
from streams.model import Event, EventType
from tests.detectors.properties import CASES, PropertyCase
from tests.factories import HOUR, T0, adult, message, minor

DAY = 24 * HOUR


def test_a_state_past_its_window_leaves_a_subject_that_lives_on() -> None:
    """The adult's account holds a 1-day block memory and a 14-day pair memory; two days
    later only the pair memory is left on it."""
    engine = Engine(
        [
            MinorBlocksReportsDetector(MinorBlocksReportsConfig(window_ms=DAY)),
            NewContactBurstDetector(NewContactBurstConfig(pair_memory_ms=14 * DAY)),
        ]
    )
    grown_up = adult("u-a")
    engine.process(message(grown_up, minor("m-1"), T0, first=True))
    engine.process(Event("e-block", EventType.BLOCKED, T0 + HOUR, minor("m-2"), grown_up))
    state = engine.subjects["ACCOUNT:u-a"]
    assert set(state.detector_states) == {"new_contact_burst", "minor_blocks_reports"}

    engine.expire(T0 + 2 * DAY)
    assert set(engine.subjects) == {"ACCOUNT:u-a"}
    assert set(state.detector_states) == {"new_contact_burst"}
    assert b"minor_blocks_reports" not in (engine.dump("ACCOUNT:u-a") or b"")

    engine.expire(T0 + 15 * DAY)  # the pair memory too: nothing of the account is left
    assert engine.subjects == {}


@pytest.mark.parametrize("case", CASES, ids=repr)
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_expiring_at_any_point_changes_no_alert(case: PropertyCase, data: st.DataObject) -> None:
    """An emptied state is dropped and a new one starts empty: the alerts of a run that expires
    after arbitrary events equal those of a run that never expires (steps expire themselves)."""
    events = sorted(data.draw(case.streams, label="events"), key=lambda e: (e.ts_ms, e.event_id))
    cuts = data.draw(st.sets(st.integers(0, max(0, len(events) - 1))), label="expire after")
    never, often = Engine([case.detector()]), Engine([case.detector()])
    expected = [a for e in events for a in never.process(e)]
    got = []
    for i, event in enumerate(events):
        got += often.process(event)
        if i in cuts:
            often.expire(event.ts_ms)
    assert got == expected
