"""One flush, in memory (`streams/pipeline/flush.py` on `streams/adapters/memory.py`): the
route step is carried out before any detect step, decisions between them, and the observer
(metrics) sees each step once, with the records it was given."""

from __future__ import annotations

from streams import topics
from streams.adapters.memory import MemoryToken, run_now
from streams.pipeline.flush import flush
from streams.pipeline.stage import DetectStep, RouteStep
from tests.pipeline.test_stage import attack, burst, loaded

EVENTS, ROUTED = topics.EVENTS.name, topics.ROUTED.name


class Seen:
    """Every observer call, in order: (hook, partition or None, records)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int | None, int]] = []

    def routed(self, step: RouteStep[MemoryToken], seconds: float) -> None:
        self.calls.append(("routed", None, step.records))

    def decided(self, step: RouteStep[MemoryToken]) -> None:
        self.calls.append(("decided", None, step.records))

    def detecting(self, step: DetectStep[MemoryToken]) -> None:
        self.calls.append(("detecting", step.partition, step.records))

    def detected(self, step: DetectStep[MemoryToken], seconds: float) -> None:
        self.calls.append(("detected", step.partition, step.records))


def test_route_then_detect_each_partition_then_release_the_others() -> None:
    events = burst()
    adapter = loaded(events[:30])
    adapter.poll()  # routes the first 30 input records: routed records wait in the log
    for event in events[30:]:  # 30 more input records arrive meanwhile
        adapter.log.append(EVENTS, event.actor.id.encode(), b"")  # refused: dead letters
    batches = {EVENTS: adapter._take(EVENTS), ROUTED: adapter._take(ROUTED)}
    routed = {p: len(records) for p, records in batches[ROUTED].items()}
    adapter.pipeline.runtime(max(routed) + 1)  # a routed partition with nothing new
    adapter.effects.clear()
    seen = Seen()
    pipeline = adapter.pipeline
    run_now(flush(pipeline, batches, adapter, revocations=pipeline.revocations, observer=seen))

    assert seen.calls[0] == ("routed", None, len(events) - 30)
    detect = seen.calls[1:]
    with_records = [c for c in detect if c[0] == "detected"]
    assert [(p, n) for _hook, p, n in with_records] == list(routed.items())
    assert ("detecting", max(routed) + 1, 0) in detect  # released, nothing to record
    # Every effect of the route step (its dead letters, its input acks) comes first.
    kinds = [(e[0], e[1]) for e in adapter.effects]
    last_route = max(
        i
        for i, k in enumerate(kinds)
        if k in {("ack", EVENTS), ("deliver", topics.DEAD_LETTER.name)}
    )
    first_detect = min(i for i, k in enumerate(kinds) if k == ("ack", ROUTED))
    assert last_route < first_detect


def test_a_flush_taken_before_a_revoke_applies_nothing() -> None:
    adapter = loaded(attack())
    adapter.poll()
    batches = {ROUTED: adapter._take(ROUTED)}
    pipeline = adapter.pipeline
    taken_at = pipeline.revocations
    pipeline.revoked([])  # a rebalance began after the records were taken
    seen = Seen()
    run_now(flush(pipeline, batches, adapter, revocations=taken_at, observer=seen))
    assert seen.calls == []
    assert not any(e[:2] == ("ack", ROUTED) for e in adapter.effects)
