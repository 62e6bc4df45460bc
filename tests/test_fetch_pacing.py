"""streams/fetch_pacing.py: waits only after quick empty fetches, doubling, capped."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.fetch_pacing import FetchPacer

MAX_WAIT_S = 0.5


def test_quick_empty_fetches_back_off_doubling_to_the_cap() -> None:
    pacer = FetchPacer(MAX_WAIT_S, cap_s=0.1, first_s=0.005)
    delays = [pacer.after_fetch(0.001, records=False) for _ in range(8)]
    assert delays == [0.005, 0.01, 0.02, 0.04, 0.08, 0.1, 0.1, 0.1]


def test_records_or_a_broker_that_waited_reset_it() -> None:
    pacer = FetchPacer(MAX_WAIT_S)
    for _ in range(5):
        pacer.after_fetch(0.0, records=False)
    assert pacer.after_fetch(0.001, records=True) == 0.0
    pacer.after_fetch(0.0, records=False)
    assert pacer.after_fetch(MAX_WAIT_S, records=False) == 0.0  # Kafka held it: no pacing


def test_first_wait_must_fit_under_the_cap() -> None:
    with pytest.raises(ValueError, match="first_s"):
        FetchPacer(MAX_WAIT_S, cap_s=0.01, first_s=0.05)


@given(st.lists(st.tuples(st.floats(0, 2 * MAX_WAIT_S), st.booleans()), max_size=50))
def test_never_waits_past_the_cap_nor_after_records(fetches: list[tuple[float, bool]]) -> None:
    pacer = FetchPacer(MAX_WAIT_S, cap_s=0.1)
    previous = 0.0
    for took, records in fetches:
        delay = pacer.after_fetch(took, records)
        assert 0.0 <= delay <= 0.1
        if records or took >= MAX_WAIT_S / 2:
            assert delay == 0.0
        else:
            assert delay == min(0.1, max(0.005, previous * 2))
        previous = delay
