"""The port between the pipeline and whatever runs it (Faust today, in memory in tests).

What an adapter hands the pipeline: `Record`s, each carrying the adapter's own ack token
(anything with the `AckToken` fields). What the pipeline hands back, per batch, is a step
(`stage.py`): records to send, state to save, tokens to ack. The adapter provides the three
effects (`Port`: a sink, a state store, an ack ledger) and calls the assign and revoke hooks
(`Rebalance`) when its consumer's partitions change; `stage.settle_*` carries out a step's
effects in the one order that keeps at-least-once (send, then save, then ack).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Generic, NamedTuple, Protocol, TypeVar


class AckToken(Protocol):
    """What the pipeline reads from an adapter's token: where the record came from."""

    @property
    def partition(self) -> int: ...

    @property
    def offset(self) -> int: ...

    @property
    def timestamp(self) -> float:
        """The record's Kafka timestamp, in seconds (ingest-to-alert latency)."""
        ...


T = TypeVar("T", bound=AckToken)
T_contra = TypeVar("T_contra", bound=AckToken, contravariant=True)


class Record(NamedTuple, Generic[T]):
    """One consumed record of one partition and the token that acknowledges it."""

    offset: int
    key: bytes | None
    value: bytes
    token: T


class Outgoing(NamedTuple):
    """A record the pipeline produces (routed packet, dead letter, alert)."""

    topic: str
    key: bytes | None
    value: bytes
    partition: int | None = None  # None: the producer's partitioner picks, by key
    timestamp_s: float | None = None  # None: now


Headers = Mapping[str, bytes | None]
"""Output framing per topic: None = Avro single-object encoding, else a Confluent header."""


class Sink(Protocol):
    async def deliver(self, records: Sequence[Outgoing]) -> None:
        """Send, and return once the broker has acknowledged every record."""
        ...


class StateStore(Protocol):
    def load(self, key: str) -> bytes | None:
        """A subject's serialised state (None: none saved)."""
        ...

    async def save(self, partition: int, writes: Mapping[str, bytes | None]) -> bool:
        """Save one batch of a routed partition's state (None deletes), so that a commit after
        this returns covers it. False: not saved (the adapter is stopping); do not ack."""
        ...


class AckLedger(Protocol[T_contra]):
    def ack(self, topic: str, tokens: Sequence[T_contra]) -> None:
        """These records are done: their offsets may be committed (`acks.py`'s rule)."""
        ...


class Port(Sink, StateStore, AckLedger[T_contra], Protocol[T_contra]):
    """Everything a stage's effects need, from one adapter."""


class Rebalance(Protocol):
    """The hooks an adapter calls when its consumer's partitions change: (topic, partition)
    pairs, every topic of one assignment or revocation in one call."""

    def assigned(self, partitions: Iterable[tuple[str, int]]) -> None: ...

    def revoked(self, partitions: Iterable[tuple[str, int]]) -> None: ...
