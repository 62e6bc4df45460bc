"""The pipeline on an in-memory log: a second adapter behind the same port, no broker.

Topics are lists of records per partition; a consumer position, the records handed on and not
acked ("held"), the acked ones and the committed offsets are kept per (topic, partition), and
commits follow `streams/pipeline/acks.py`. Each `poll` is one flush (`streams/pipeline/flush.py`,
as on the Faust adapter): the new records of both topics, the route stage, then the detect
stage per routed partition, each step carried out by `stage.settle_*`; every effect is logged in
order (`effects`), so tests can check what was sent, saved and acked before what. `crash` gives a
new adapter on the same log, committed offsets and saved state, as a restarted worker would see
them. The in-memory effects never wait, so the settle coroutines run to their end at once,
without an event loop. Used by the contract suite (tests/contract/), which also runs on Faust.
"""

from __future__ import annotations

import time
import zlib
from collections import defaultdict
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from streams import topics
from streams.config import GuardlineConfig
from streams.pipeline.acks import commit_point
from streams.pipeline.flush import flush
from streams.pipeline.ports import Outgoing, Rebalance, Record
from streams.pipeline.stage import Pipeline

R = TypeVar("R")
TopicPartition = tuple[str, int]
OUTPUTS = (topics.ALERTS, topics.PRIORITY, topics.SHADOW, topics.DEAD_LETTER)


@dataclass(frozen=True, slots=True)
class MemoryToken:
    topic: str
    partition: int
    offset: int
    timestamp: float


@dataclass(slots=True)
class MemoryLog:
    """Every topic's records, (key, value, timestamp) per partition, and the group's commits."""

    partitions: int = topics.DEFAULT_PARTITIONS
    logs: dict[str, list[list[tuple[bytes | None, bytes, float]]]] = field(default_factory=dict)
    committed: dict[TopicPartition, int] = field(default_factory=dict)
    _next: int = 0  # round robin for records without key or partition

    def topic(self, name: str) -> list[list[tuple[bytes | None, bytes, float]]]:
        log = self.logs.get(name)
        if log is None:
            log = self.logs[name] = [[] for _ in range(self.partitions)]
        return log

    def append(
        self,
        topic: str,
        key: bytes | None,
        value: bytes,
        partition: int | None = None,
        timestamp_s: float | None = None,
    ) -> int:
        if partition is None:
            if key is None:
                partition, self._next = self._next % self.partitions, self._next + 1
            else:
                partition = zlib.crc32(key) % self.partitions
        log = self.topic(topic)[partition]
        log.append((key, value, time.time() if timestamp_s is None else timestamp_s))
        return len(log) - 1

    def records(self, topic: str) -> list[tuple[bytes | None, bytes]]:
        return [(key, value) for log in self.topic(topic) for key, value, _ts in log]

    def lag(self, topic: str) -> int:
        """Records not committed yet, over the topic's partitions."""
        logs = self.topic(topic)
        return sum(len(log) - self.committed.get((topic, p), 0) for p, log in enumerate(logs))


def run_now(coroutine: Coroutine[Any, Any, R]) -> R:
    """Run a coroutine that never waits (in-memory effects) to its end, without a loop."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        result: R = done.value
        return result
    coroutine.close()
    raise RuntimeError("an in-memory effect waited")


class MemoryAdapter:
    """One worker owning every partition, on a `MemoryLog`; implements the pipeline's port."""

    def __init__(
        self,
        config: GuardlineConfig,
        log: MemoryLog,
        *,
        state: dict[str, bytes] | None = None,
        batch_size: int = 2000,
        clock_s: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.log = log
        self.state = {} if state is None else state  # the saved state (survives `crash`)
        self.batch_size = batch_size
        self.pipeline: Pipeline[MemoryToken] = Pipeline(
            config,
            log.partitions,
            headers=dict.fromkeys(spec.name for spec in OUTPUTS),
            loader=self.load,
            idle_after_s=0.0,  # idle as soon as caught up at a heartbeat (`run`)
            clock_s=clock_s,
        )
        self.position: dict[TopicPartition, int] = dict(log.committed)
        self.held: dict[TopicPartition, set[int]] = defaultdict(set)
        self.done: dict[TopicPartition, set[int]] = defaultdict(set)
        self.effects: list[tuple[Any, ...]] = []
        hooks: Rebalance = self.pipeline  # every partition of both topics, from the start
        hooks.assigned(
            (spec.name, p) for spec in (topics.EVENTS, topics.ROUTED) for p in range(log.partitions)
        )

    # --- the port ------------------------------------------------------------------------------

    async def deliver(self, records: Sequence[Outgoing]) -> None:
        for record in records:
            partition = record.partition
            offset = self.log.append(
                record.topic, record.key, record.value, partition, record.timestamp_s
            )
            self.effects.append(("deliver", record.topic, record.key, record.value, offset))

    def load(self, key: str) -> bytes | None:
        return self.state.get(key)

    async def save(self, partition: int, writes: Mapping[str, bytes | None]) -> bool:
        for key, value in writes.items():
            if value is None:
                self.state.pop(key, None)
            else:
                self.state[key] = value
        self.effects.append(("save", partition, tuple(sorted(writes))))
        return True

    def ack(self, topic: str, tokens: Sequence[MemoryToken]) -> None:
        for token in tokens:
            tp = (topic, token.partition)
            self.held[tp].discard(token.offset)
            self.done[tp].add(token.offset)
            self.effects.append(("ack", topic, token.partition, token.offset))

    # --- driving it ----------------------------------------------------------------------------

    def _take(self, topic: str) -> dict[int, list[Record[MemoryToken]]]:
        taken: dict[int, list[Record[MemoryToken]]] = {}
        for partition, log in enumerate(self.log.topic(topic)):
            tp = (topic, partition)
            start = self.position.get(tp, 0)
            chunk = log[start : start + self.batch_size]
            if not chunk:
                continue
            taken[partition] = [
                Record(offset, key, value, MemoryToken(topic, partition, offset, ts))
                for offset, (key, value, ts) in enumerate(chunk, start)
            ]
            self.position[tp] = start + len(chunk)
            self.held[tp].update(range(start, start + len(chunk)))
        return taken

    def _caught_up(self, source: int) -> bool:
        tp = (topics.EVENTS.name, source)
        return self.position.get(tp, 0) >= len(self.log.topic(tp[0])[source])

    def poll(self, *, heartbeats: bool = False) -> int:
        """One flush: the new records of both topics; returns how many were taken."""
        revocations = self.pipeline.revocations
        batches = {name: self._take(name) for name in (topics.EVENTS.name, topics.ROUTED.name)}
        run_now(
            flush(
                self.pipeline,
                batches,
                self,
                revocations=revocations,
                heartbeats=heartbeats,
                caught_up=self._caught_up,
            )
        )
        self.commit()
        return sum(len(records) for batch in batches.values() for records in batch.values())

    def commit(self) -> None:
        committed = self.log.committed
        for tp, done in self.done.items():
            committed[tp] = commit_point(committed.get(tp, 0), done, self.held[tp])

    def run(self, max_polls: int = 100_000) -> None:
        """Until quiet: poll while records come; then a heartbeat (the timer's tick: every
        caught-up input partition goes idle, so everything held is released), and again."""
        for _ in range(max_polls):
            if self.poll():
                continue
            sent = len(self.effects)
            if not self.poll(heartbeats=True) and len(self.effects) == sent:
                return
        raise RuntimeError(f"not quiet after {max_polls} polls")

    def crash(self) -> MemoryAdapter:
        """A new worker on the same log, committed offsets and saved state (as after SIGKILL)."""
        return MemoryAdapter(self.config, self.log, state=self.state, batch_size=self.batch_size)
