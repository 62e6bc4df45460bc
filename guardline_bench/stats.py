"""The tiny file protocol between the bench and the consumers it runs as separate processes.

Each consumer rewrites a JSON file with how many events it has handled and the wall-clock
times of its first and last one; the bench polls it until the expected count is reached.
"""

from __future__ import annotations

import time
from pathlib import Path

from streams.ops.totals import read_stats, write_stats

__all__ = ["Counter", "read_stats", "write_stats"]


class Counter:
    """Counts handled events and remembers first/last wall times; flushes at most every 0.2 s."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        self.first_s = 0.0
        self.last_s = 0.0
        self._flushed = 0.0

    def add(self, n: int = 1) -> None:
        now = time.time()
        if not self.count:
            self.first_s = now
        self.count += n
        self.last_s = now
        if now - self._flushed >= 0.2:
            self.flush()

    def flush(self) -> None:
        self._flushed = time.time()
        write_stats(
            self.path, {"count": self.count, "first_s": self.first_s, "last_s": self.last_s}
        )
