"""When the router may announce input partitions idle (`Pipeline.route`): only while every
input partition it owns is caught up (issue 18, the broker-kill run 136)."""

from __future__ import annotations

from streams import topics
from streams.adapters.memory import MemoryToken
from streams.codec import encode_event
from streams.config import load_config
from streams.engine.core import routes
from streams.model import Event
from streams.pipeline.envelope import IDLE, unpack
from streams.pipeline.ports import Record
from streams.pipeline.stage import Pipeline, RouteStep
from tests.factories import MIN, T0, message, minor

CONFIG = load_config()
ROUTED = topics.ROUTED.name


def record(partition: int, offset: int, event: Event) -> Record[MemoryToken]:
    token = MemoryToken(topics.EVENTS.name, partition, offset, 0.0)
    return Record(offset, event.actor.id.encode(), encode_event(event), token)


class Worker:
    """A pipeline owning both input and both routed partitions, a frozen clock (idle timeout
    0: every tick finds every source quiet, as after a SIGSTOP), its routed packets applied at
    once; `behind`: input partitions with records not yet routed."""

    def __init__(self) -> None:
        self.pipeline: Pipeline[MemoryToken] = Pipeline(
            CONFIG, 2, headers={}, idle_after_s=0.0, clock_s=lambda: 0.0
        )
        self.pipeline.assigned(
            [(topics.EVENTS.name, 0), (topics.EVENTS.name, 1), (ROUTED, 0), (ROUTED, 1)]
        )
        self.behind: set[int] = set()
        self.offset = 0

    def flush(
        self, batches: dict[int, list[Record[MemoryToken]]], tick: bool
    ) -> RouteStep[MemoryToken]:
        step = self.pipeline.route(
            batches, heartbeats=tick, caught_up=lambda p: p not in self.behind
        )
        for out in step.outgoing:
            assert out.topic == ROUTED and out.partition is not None
            token = MemoryToken(ROUTED, out.partition, self.offset, 0.0)
            packet = [Record(self.offset, None, out.value, token)]
            self.offset += 1
            assert self.pipeline.detect(out.partition, packet, self.pipeline.revocations)
        return step


def idle(step: RouteStep[MemoryToken]) -> set[int]:
    packets = (unpack(out.value) for out in step.outgoing)
    return {p.source_partition for p in packets if p.watermark_ms == IDLE}


def test_no_source_is_announced_idle_while_an_owned_one_is_behind() -> None:
    """Partition 0 went idle, then `a` was written to it; `b` (same subject, later) was
    routed from partition 1. Announced idle now, partition 1 would complete the set with
    partition 0's old IDLE: `b` applied, then `a` skipped as late."""
    x, y = minor("u-x"), minor("u-y")
    a, b = message(x, y, T0, first=True, eid="e-a"), message(y, x, T0 + MIN, eid="e-b")
    subject = set(routes(CONFIG.active(), a)) & set(routes(CONFIG.active(), b))
    assert subject, "the two events must share a subject"
    worker = Worker()
    assert idle(worker.flush({}, tick=True)) == {0, 1}  # caught up, quiet: both idle
    worker.behind.add(0)  # `a` is on partition 0, not routed yet
    worker.flush({1: [record(1, 0, b)]}, tick=False)
    while_behind = idle(worker.flush({}, tick=True))
    worker.behind.clear()
    worker.flush({0: [record(0, 0, a)]}, tick=False)
    caught_up = idle(worker.flush({}, tick=True))
    stats = [runtime.engine.stats for runtime in worker.pipeline.runtimes.values()]
    assert sum(s.skipped_replays for s in stats) == 0, "`a` came late"
    assert sum(s.applied for s in stats) == len(routes(CONFIG.active(), a)) + len(
        routes(CONFIG.active(), b)
    )
    assert (while_behind, caught_up) == (set(), {0, 1})
