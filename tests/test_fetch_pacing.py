"""streams/fetch_pacing.py: waits only once quick empty fetches last, doubling, capped."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.fetch_pacing import FetchPacer

MAX_WAIT_S = 0.5


def test_quick_empty_fetches_wait_only_after_the_grace_then_double_to_the_cap() -> None:
    pacer = FetchPacer(MAX_WAIT_S, grace_s=0.2, first_s=0.005, cap_s=0.05)
    # Live traffic: empty answers between records, never for 0.2 s in a row.
    assert [pacer.after_fetch(0.001, records=False, now_s=t / 100) for t in range(15)] == [0] * 15
    assert pacer.after_fetch(0.001, records=True, now_s=0.15) == 0.0
    # Idle from 0.2 s: no wait until 0.2 s of empty answers (0.20 .. 0.39), then 5, 10, 20,
    # 40 ms and the 50 ms cap.
    waits = [pacer.after_fetch(0.001, records=False, now_s=0.2 + t / 100) for t in range(27)]
    assert waits[:20] == [0.0] * 20
    assert waits[20:] == [0.005, 0.01, 0.02, 0.04, 0.05, 0.05, 0.05]


def test_records_or_a_broker_that_waited_reset_it() -> None:
    pacer = FetchPacer(MAX_WAIT_S, grace_s=0.0)
    for t in range(5):
        pacer.after_fetch(0.0, records=False, now_s=t)
    assert pacer.delay_s > 0
    assert pacer.after_fetch(0.001, records=True, now_s=6) == 0.0
    for t in range(7, 10):
        pacer.after_fetch(0.0, records=False, now_s=t)
    assert pacer.after_fetch(MAX_WAIT_S, records=False, now_s=11) == 0.0  # Kafka held it


def test_first_wait_must_fit_under_the_cap() -> None:
    with pytest.raises(ValueError, match="first_s"):
        FetchPacer(MAX_WAIT_S, cap_s=0.01, first_s=0.05)


@given(
    st.lists(st.tuples(st.floats(0, 2 * MAX_WAIT_S), st.booleans(), st.floats(0, 1)), max_size=60)
)
def test_never_waits_past_the_cap_after_records_or_within_the_grace(
    fetches: list[tuple[float, bool, float]],
) -> None:
    pacer = FetchPacer(MAX_WAIT_S, grace_s=0.2, cap_s=0.05)
    now, empty_since = 0.0, None
    for took, records, step in fetches:
        now += step
        delay = pacer.after_fetch(took, records, now)
        assert 0.0 <= delay <= 0.05
        if records or took >= MAX_WAIT_S / 2:
            empty_since = None
            assert delay == 0.0
        else:
            empty_since = now if empty_since is None else empty_since
            if now - empty_since < 0.2:
                assert delay == 0.0
