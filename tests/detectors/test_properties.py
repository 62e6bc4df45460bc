"""Order within lateness, replay idempotence and bounded state, for every detector.

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
    check_order,
    check_replay,
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
