"""A dependency-free progress line for long CLI steps (a newcomer must never stare at silence)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, label: str, total: int | None, stream: TextIO = sys.stderr) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self._stream = stream
        self._start = time.monotonic()
        self._last_draw = 0.0
        self._tty = stream.isatty()

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if now - self._last_draw >= (0.1 if self._tty else 2.0):
            self._last_draw = now
            self._draw(final=False)

    def close(self) -> None:
        self._draw(final=True)

    def _draw(self, *, final: bool) -> None:
        elapsed = max(time.monotonic() - self._start, 1e-9)
        rate = self.done / elapsed
        if self.total:
            pct = 100.0 * self.done / self.total
            width = 30
            filled = int(width * self.done / self.total)
            bar = "#" * filled + "-" * (width - filled)
            text = f"{self.label} [{bar}] {self.done}/{self.total} {pct:5.1f}% {rate:,.0f}/s"
        else:
            text = f"{self.label} {self.done} {rate:,.0f}/s"
        end = "\n" if final or not self._tty else ""
        prefix = "\r" if self._tty else ""
        self._stream.write(f"{prefix}{text}{end}")
        self._stream.flush()
