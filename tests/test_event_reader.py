"""The fast event reader: same events as fastavro, and never accepts what fastavro refuses."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from streams import codec
from streams.codec import HEADER_LEN, decode_event, encode_event
from streams.event_reader import FINGERPRINT, read_event
from streams.model import Event
from streams.simulate import SimulationConfig, simulate
from streams.validation import InvalidEvent

EVENTS = simulate(SimulationConfig(seed=3, events_target=10_000)).events[:3000]


def _fastavro(data: bytes) -> Event | None:
    """The reference: fastavro's decode of the same bytes, without validation."""
    try:
        return codec._event(codec._read(codec._EVENT, data))
    except InvalidEvent:
        return None


def test_it_follows_the_current_event_schema() -> None:
    """A schema change must update event_reader.py (fingerprint, symbols, field order)."""
    assert codec._EVENT.header == codec.MAGIC + FINGERPRINT
    assert codec._FAST_HEADER is not None


def test_every_simulated_event_reads_as_fastavro_reads_it() -> None:
    for event in EVENTS:
        data = encode_event(event)
        assert read_event(data, HEADER_LEN) == (event, len(data))
        assert _fastavro(data) == event
        assert decode_event(data) == event


@given(
    pick=st.integers(0, len(EVENTS) - 1),
    edits=st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)), min_size=1, max_size=4),
    cut=st.integers(0, 200),
)
def test_damaged_bytes_are_read_as_fastavro_reads_them_or_left_to_it(
    pick: int, edits: list[tuple[int, int]], cut: int
) -> None:
    data = bytearray(encode_event(EVENTS[pick]))
    for at, value in edits:
        if HEADER_LEN <= at < len(data):
            data[at] = value
    damaged = bytes(data[: max(HEADER_LEN, len(data) - cut % 8)])
    try:
        fast, end = read_event(damaged, HEADER_LEN)
    except Exception:
        return  # left to fastavro, which gives the verdict
    if end == len(damaged):
        assert _fastavro(damaged) == fast


@given(body=st.binary(max_size=120))
def test_random_bodies_are_never_accepted_more_than_by_fastavro(body: bytes) -> None:
    data = codec._EVENT.header + body
    try:
        fast, end = read_event(data, HEADER_LEN)
    except Exception:
        return
    if end == len(data):
        assert _fastavro(data) == fast
