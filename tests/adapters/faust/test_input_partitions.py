"""Where each input partition is (`streams/adapters/faust/input_partitions.py`), against a
stand-in for the parts of Faust's consumer, aiokafka and the intake it reads."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from faust.types import TP

from streams.adapters.faust.input_partitions import input_partitions
from streams.adapters.faust.intake import Intake

TOPIC = "guardline-events"


class Consumer:
    def __init__(self) -> None:
        self.flow_active = True
        self._committed_offset = {TP(TOPIC, 0): 40, TP(TOPIC, 1): 10}
        self._active_partitions = {TP(TOPIC, 0)}
        self._buffered_partitions: set[TP] = set()
        self._paused_partitions = {TP(TOPIC, 4)}
        positions = {TP(TOPIC, 0): 55}
        state = SimpleNamespace(
            state_value=lambda tp: SimpleNamespace(_position=positions[tp])  # KeyError: unknown
        )
        subscription = SimpleNamespace(subscription=SimpleNamespace(assignment=state))
        self._thread = SimpleNamespace(_consumer=SimpleNamespace(_subscription=subscription))

    def commit_base(self, tp: TP) -> int | None:
        return self._committed_offset.get(tp)

    def highwater(self, tp: TP) -> int | None:
        return {0: 60, 1: 30}.get(tp.partition)

    def _get_active_partitions(self) -> set[TP]:
        return self._active_partitions

    def on_buffer_full(self, tp: TP) -> None:
        self._active_partitions.discard(tp)
        self._buffered_partitions.add(tp)


def make() -> tuple[Any, Intake]:
    app = SimpleNamespace(consumer=Consumer(), rebalancing=False, consumer_generation_id=1)
    intake = Intake(app, TOPIC, batch_size=100)
    intake._next[0] = 50  # handed on up to 49 since assigned
    return app, intake


def test_offsets_and_the_state_of_each_partition() -> None:
    app, intake = make()
    intake.hold({2})
    intake._paused.add(TP(TOPIC, 3))  # its intake buffer is full
    views = input_partitions(app, intake, {0, 1, 2, 3, 4, 5})
    assert views[0].offsets() == {"handed_on": 50, "fetched": 55, "committed": 40, "end": 60}
    # Nothing handed on since assigned: from the committed offset.
    assert views[1].offsets() == {"handed_on": 10, "fetched": None, "committed": 10, "end": 30}
    assert views[5].handed_on is None and views[5].end is None
    assert {p: v.state for p, v in views.items()} == {
        0: "fetching", 1: "unfetched", 2: "held", 3: "full", 4: "paused", 5: "unfetched"
    }  # fmt: skip


def test_every_partition_is_paused_while_the_flow_is_stopped() -> None:
    app, intake = make()
    app.consumer.flow_active = False
    assert {v.state for v in input_partitions(app, intake, {0, 1}).values()} == {"paused"}
    app.consumer.flow_active, app.rebalancing = True, True
    assert {v.state for v in input_partitions(app, intake, {0, 1}).values()} == {"paused"}
