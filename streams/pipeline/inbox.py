"""Records collected per topic and partition until the next flush takes them all at once.

An adapter whose framework hands on records one by one (Faust's agents) collects them here;
the pipeline works on batches. Records of a revoked partition are forgotten: its new owner
reads them again from the committed offset.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Generic

from streams.pipeline.ports import Record, T

Batches = dict[str, dict[int, list[Record[T]]]]
"""Per topic, per partition, the records in offset order."""


class Inbox(Generic[T]):
    def __init__(self, topics: Iterable[str]) -> None:
        self.topics = tuple(topics)
        self.records: Batches[T] = self._empty()
        self.count = 0

    def _empty(self) -> Batches[T]:
        return {name: defaultdict(list) for name in self.topics}

    def add(self, topic: str, record: Record[T]) -> int:
        """Collect one record (of `record.token.partition`); returns how many wait now."""
        self.records[topic][record.token.partition].append(record)
        self.count += 1
        return self.count

    def take(self) -> Batches[T]:
        """Everything collected, leaving the inbox empty."""
        taken, self.records, self.count = self.records, self._empty(), 0
        return taken

    def forget(self, topic: str, partition: int) -> None:
        dropped = self.records.get(topic, {}).pop(partition, None)
        if dropped:
            self.count -= len(dropped)
