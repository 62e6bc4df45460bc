"""The inbox an adapter collects records in between flushes (`streams/pipeline/inbox.py`)."""

from __future__ import annotations

from streams.adapters.memory import MemoryToken
from streams.pipeline.inbox import Inbox
from streams.pipeline.ports import Record


def record(topic: str, partition: int, offset: int) -> Record[MemoryToken]:
    return Record(offset, None, b"", MemoryToken(topic, partition, offset, 0.0))


def test_records_wait_per_topic_and_partition_until_taken() -> None:
    inbox: Inbox[MemoryToken] = Inbox(["in", "routed"])
    counts = [
        inbox.add(t, record(t, p, o)) for t, p, o in [("in", 0, 5), ("routed", 2, 1), ("in", 0, 6)]
    ]
    assert counts == [1, 2, 3]
    taken = inbox.take()
    assert {t: {p: [r.offset for r in rs] for p, rs in b.items()} for t, b in taken.items()} == {
        "in": {0: [5, 6]},
        "routed": {2: [1]},
    }
    assert inbox.count == 0 and not any(inbox.take().values())


def test_a_revoked_partitions_records_are_forgotten() -> None:
    inbox: Inbox[MemoryToken] = Inbox(["in"])
    for offset in range(3):
        inbox.add("in", record("in", 1, offset))
    inbox.add("in", record("in", 2, 0))
    inbox.forget("in", 1)
    inbox.forget("in", 7)  # nothing collected there
    inbox.forget("other", 1)  # a topic it does not collect
    assert inbox.count == 1
    assert list(inbox.take()["in"]) == [2]
