"""The pipeline's stages and the order their effects are carried out, in memory
(`streams/pipeline/stage.py` on `streams/adapters/memory.py`): milliseconds each."""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Mapping, Sequence

import pytest

from streams import topics
from streams.adapters.memory import MemoryAdapter, MemoryLog, MemoryToken, run_now
from streams.backtest import run_backtest
from streams.codec import decode_alert, encode_event
from streams.config import load_config
from streams.model import Alert, Event
from streams.pipeline.ports import Outgoing
from streams.pipeline.stage import DetectStep, settle_detect
from tests.factories import MIN, T0, adult, message, minor

ROUTED = topics.ROUTED.name


def attack() -> list[Event]:
    """One anonymous adult first-contacting 20 minors: all on one input partition."""
    attacker = adult("u-attacker", anonymous=True)
    return [message(attacker, minor(f"m-{i}"), T0 + i * MIN, eid=f"c-{i}") for i in range(20)]


def burst() -> list[Event]:
    events = attack()
    for i in range(40):  # other actors, other input partitions
        events.append(message(adult(f"a-{i % 9}"), adult(f"a-{i % 5}"), T0 + i * 31_000))
    return events


def loaded(events: list[Event], **kwargs: int) -> MemoryAdapter:
    log = MemoryLog()
    for event in events:
        log.append(topics.EVENTS.name, event.actor.id.encode(), encode_event(event))
    return MemoryAdapter(load_config(), log, **kwargs)


def cases(alerts: list[Alert]) -> dict[tuple[str, int], Alert]:
    return {(a.alert_id, a.revision): dataclasses.replace(a, emitted_at_ms=0) for a in alerts}


def published(adapter: MemoryAdapter) -> list[Alert]:
    return [decode_alert(v) for _k, v in adapter.log.records(topics.ALERTS.name)]


def held_step(adapter: MemoryAdapter) -> DetectStep[MemoryToken]:
    """A detect step with alerts, state writes and acks, not carried out yet (the input on
    one partition only: nothing is released before the heartbeat makes every one idle)."""
    while adapter.poll():
        pass
    pipeline = adapter.pipeline
    adapter.poll(heartbeats=True)  # every input partition idle: the next detect releases all
    routed = adapter._take(ROUTED)
    for partition, records in routed.items():
        step = pipeline.detect(partition, records, pipeline.revocations)
        assert step is not None
        if step.outgoing:
            return step
    raise AssertionError("no step with alerts")


def test_a_steps_alerts_are_sent_then_its_state_saved_then_its_records_acked() -> None:
    adapter = loaded(attack())
    step = held_step(adapter)
    adapter.effects.clear()
    assert run_now(settle_detect(adapter.pipeline, step, adapter))
    kinds = [effect[0] for effect in adapter.effects]
    sent, saved = kinds.count("deliver"), kinds.count("save")
    assert sent == len(step.outgoing) and saved == 1 and "ack" in kinds
    assert kinds == ["deliver"] * sent + ["save"] + ["ack"] * (len(kinds) - sent - 1)


class Broken(MemoryAdapter):
    """The broker refuses the alerts (a crash mid-delivery looks the same to the records)."""

    async def deliver(self, records: Sequence[Outgoing]) -> None:
        if any(r.topic != ROUTED for r in records):
            raise ConnectionError("broker gone")
        await super().deliver(records)


class Stopping(MemoryAdapter):
    async def save(self, partition: int, writes: Mapping[str, bytes | None]) -> bool:
        return False  # the producer is stopping: state not handed on


class RevokedMeanwhile(MemoryAdapter):
    async def deliver(self, records: Sequence[Outgoing]) -> None:
        await super().deliver(records)
        if any(r.topic == topics.ALERTS.name for r in records):
            self.pipeline.revoked([(ROUTED, p) for p in range(self.log.partitions)])


def test_nothing_is_acked_when_sending_fails() -> None:
    adapter = Broken(load_config(), loaded(attack()).log)
    step = held_step(adapter)
    adapter.effects.clear()
    with pytest.raises(ConnectionError):
        run_now(settle_detect(adapter.pipeline, step, adapter))
    assert adapter.effects == []


def test_nothing_is_acked_when_the_state_is_not_saved() -> None:
    adapter = Stopping(load_config(), loaded(attack()).log)
    step = held_step(adapter)
    adapter.effects.clear()
    assert not run_now(settle_detect(adapter.pipeline, step, adapter))
    assert {effect[0] for effect in adapter.effects} == {"deliver"}


def test_a_step_revoked_while_sending_neither_saves_nor_acks() -> None:
    adapter = RevokedMeanwhile(load_config(), loaded(attack()).log)
    step = held_step(adapter)
    adapter.effects.clear()
    assert not run_now(settle_detect(adapter.pipeline, step, adapter))
    assert {effect[0] for effect in adapter.effects} == {"deliver"}
    assert step.partition not in adapter.pipeline.runtimes


def test_a_step_taken_before_a_revoke_is_not_taken() -> None:
    adapter = loaded(burst())
    pipeline = adapter.pipeline
    began = pipeline.revocations
    pipeline.revoked([])
    assert pipeline.detect(0, [], began) is None and 0 not in pipeline.runtimes


def test_the_commit_never_passes_a_packet_waiting_for_the_watermark() -> None:
    """No heartbeat: packets with events wait (a quiet partition holds the bound back) while
    the watermark-only packets after them are acked; the commit stops at the first waiting."""
    source = zlib.crc32(b"u-attacker") % 4  # the input partition of every event below
    dest = zlib.crc32(b"ACCOUNT:u-attacker") % 4  # where the attacker's events are routed
    others = [
        name for name in (f"a-{i}" for i in range(200))
        if zlib.crc32(name.encode()) % 4 == source
        and zlib.crc32(f"ACCOUNT:{name}".encode()) % 4 != dest
    ][:2]  # fmt: skip
    chat = [message(adult(others[i % 2]), adult(others[(i + 1) % 2]), T0 + i * MIN + 30_000)
            for i in range(20)]  # fmt: skip
    adapter = loaded(sorted(attack() + chat, key=lambda e: e.ts_ms), batch_size=1)
    while adapter.poll():
        pass
    waiting = 0
    for (topic, partition), held in adapter.held.items():
        if topic != ROUTED or not held:
            continue
        waiting += 1
        committed = adapter.log.committed.get((topic, partition), 0)
        assert committed <= min(held)
        assert any(done > min(held) for done in adapter.done[(topic, partition)])
    assert waiting
    adapter.run()
    assert adapter.log.lag(topics.EVENTS.name) == adapter.log.lag(ROUTED) == 0


@pytest.mark.parametrize("batch_size", [1, 3, 2000])
def test_any_batching_gives_the_backtests_alerts(batch_size: int) -> None:
    events = burst()
    adapter = loaded(events, batch_size=batch_size)
    adapter.run()
    assert cases(published(adapter)) == cases(run_backtest(events, load_config()))


def test_a_crash_after_any_flush_gives_the_backtests_cases() -> None:
    """Restarted from the committed offsets and the saved state after each flush of a run:
    every (alert_id, revision) published, with the backtest's content."""
    events = burst()
    expected = cases(run_backtest(events, load_config()))
    flushes = 0
    complete = loaded(events, batch_size=5)
    while complete.poll():
        flushes += 1
    assert flushes > 5
    for polls in range(flushes + 1):
        adapter = loaded(events, batch_size=5)
        for _ in range(polls):
            adapter.poll()
        restarted = adapter.crash()
        restarted.run()
        assert cases(published(restarted)) == expected, f"crash after {polls} flushes"
