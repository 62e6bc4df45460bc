"""The routed packet: what the router packs, the detect stage gets back, event for event."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.config import load_config
from streams.engine.core import routes
from streams.model import Event
from streams.pipeline.detect import DetectOutput, PartitionRuntime
from streams.pipeline.envelope import IDLE, Packet, pack, unpack
from streams.simulate import SimulationConfig, simulate
from tests.factories import T0, adult, message, minor

EVENTS = simulate(SimulationConfig(seed=5, events_target=10_000)).events


@given(
    picks=st.lists(st.integers(0, len(EVENTS) - 1), max_size=40),
    source=st.integers(0, 63),
    watermark=st.one_of(st.just(IDLE), st.integers(-1, 2**62)),
)
def test_round_trip(picks: list[int], source: int, watermark: int) -> None:
    names = (("minor_exposure",), ("new_contact_burst", "minor_exposure"), ())
    items = [(f"ACCOUNT:{EVENTS[i].actor.id}", EVENTS[i], names[i % 3]) for i in picks]
    back = unpack(pack(Packet(source, watermark, items)))
    assert back.source_partition == source and back.watermark_ms == watermark
    assert list(back.items) == items


def test_an_event_routed_to_two_subjects_is_written_once() -> None:
    event = next(e for e in EVENTS if e.target is not None)
    want = ("minor_exposure",)
    one = pack(Packet(0, 1, [("ACCOUNT:a", event, want)]))
    two = pack(Packet(0, 1, [("ACCOUNT:a", event, want), ("ACCOUNT:b", event, want)]))
    assert len(two) - len(one) < 22  # only the second key, a row index and a names index
    back = unpack(two).items
    assert back[0][1] is back[1][1]  # one Event object, shared by both subjects


def test_foreign_bytes_are_refused() -> None:
    with pytest.raises(ValueError, match="not a Guardline routed packet"):
        unpack(b"GLR2\x00\x00")


def test_a_big_batch_is_split_into_packets_under_the_size_limit() -> None:
    """Only the last packet of a destination announces the batch's new watermark."""
    from streams.codec import encode_event
    from streams.config import load_config
    from streams.pipeline.route import MAX_PACKET_ITEMS, Router, RouterOutput

    router: Router[int] = Router(load_config(None).active(), 2)
    records = [(i, None, encode_event(e), i) for i, e in enumerate(EVENTS)]
    out: RouterOutput[int] = RouterOutput()
    router.route(0, records[:10], out)
    first_watermark = max(e.ts_ms for e in EVENTS[:10])
    out = RouterOutput()
    router.route(0, records[10:], out)
    for dest in (0, 1):
        packets = [p for d, p in out.packets if d == dest]
        assert len(packets) > 2
        assert all(0 < len(p.items) <= MAX_PACKET_ITEMS for p in packets)
        assert all(len(pack(p)) < 1 << 20 for p in packets)
        assert [p.watermark_ms for p in packets[:-1]] == [first_watermark] * (len(packets) - 1)
        assert packets[-1].watermark_ms == max(e.ts_ms for e in EVENTS)
    routed = sum(len(p.items) for _, p in out.packets)
    assert routed >= len(EVENTS) - 10  # every event reaches at least one subject's partition


def test_non_ascii_ids_travel_as_utf8() -> None:
    from streams.model import Account, AgeBand, Event, EventType

    actor = Account("ü-☃", AgeBand.AGE_21_PLUS, None, False)
    target = Account("b-é", AgeBand.AGE_13_15, 1_800_000_000_000, True)
    event = Event("e-ß", EventType.MESSAGE_SENT, 1_800_000_000_000, actor, target)
    data = pack(Packet(3, 7, [("ACCOUNT:ü-☃", event, ("minor_exposure",))]))
    assert "ü-☃".encode() in data  # raw UTF-8, not \u escapes
    assert list(unpack(data).items) == [("ACCOUNT:ü-☃", event, ("minor_exposure",))]


def test_the_detect_stage_applies_the_detectors_the_router_named_and_only_those() -> None:
    """The router's names travel with each subject: the detect stage does not route again, and
    a name its own config does not run (a detector switched off since) is left out."""
    event = message(adult("u-adult"), minor("u-kid"), T0)
    key = "ACCOUNT:u-adult"
    everyone = tuple(d.name for d in _routes_of(event)[key])
    assert len(everyone) >= 2  # more than one detector wants it: naming one is a real choice
    for names in (everyone[:1], ("retired_detector", *everyone[1:2])):
        runtime: PartitionRuntime[int] = PartitionRuntime(0, load_config(None), 1)
        out: DetectOutput[int] = DetectOutput()
        runtime.accept(Packet(0, IDLE, [(key, event, names)]), 1, out)
        runtime.release(out)
        state = runtime.engine.subjects[key]
        assert set(state.detector_states) == {n for n in names if n != "retired_detector"}


def _routes_of(event: Event) -> dict[str, list[Any]]:
    return {k: list(v) for k, v in routes(load_config(None).active(), event).items()}
