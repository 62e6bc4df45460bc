"""Which partition a subject key lives in: the route stage's and `guardline backtest --jobs`'s.

Its own module, importing nothing of Kafka: a backtest job process needs this and not the
route stage (whose imports, Kafka's client among them, cost a job ~0.3 s to start)."""

from __future__ import annotations

import zlib


def partition_for(key: str, partitions: int) -> int:
    """Stable across processes and languages (crc32), unlike Python's salted hash()."""
    return zlib.crc32(key.encode()) % partitions
