"""Order within lateness, replay idempotence, bounded state and expiry only when due, for
every detector.

The harness and the per-detector event generators live in `properties.py`.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.detectors.properties import (
    CASES,
    LATENESS_MS,
    PropertyCase,
    check_bounded,
    check_due,
    check_order,
    check_replay,
    expiry_times,
    retimed,
)


@pytest.mark.parametrize("case", CASES, ids=repr)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_shuffle_within_lateness_gives_the_same_alerts(
    case: PropertyCase, data: st.DataObject
) -> None:
    events = data.draw(case.streams, label="events")
    n = len(events)
    jitter = data.draw(st.lists(st.integers(0, LATENESS_MS - 1), min_size=n, max_size=n))
    check_order(case, events, jitter)


@pytest.mark.parametrize("case", CASES, ids=repr)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_replaying_everything_adds_no_alert(case: PropertyCase, data: st.DataObject) -> None:
    check_replay(case, data.draw(case.streams, label="events"))


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_state_stays_bounded(case: PropertyCase) -> None:
    check_bounded(case)


@pytest.mark.parametrize("case", CASES, ids=repr)
@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_expiring_only_when_due_changes_nothing(case: PropertyCase, data: st.DataObject) -> None:
    events = data.draw(case.streams, label="events")
    times = data.draw(expiry_times(len(events)), label="times")
    expiries = data.draw(st.sets(st.integers(0, len(events) - 1)), label="expiries")
    check_due(case.detector, retimed(events, times), expiries)
