"""What a backtest tells its user: a progress line while it runs, a summary at the end."""

from __future__ import annotations

import resource
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TextIO

from streams.model import Severity
from streams.validation import InvalidEvent


@dataclass(slots=True)
class BacktestReport:
    events: int = 0
    alerts: int = 0
    # "FILE:LINE: reason" of every bad line, in order: memory grows with bad lines only.
    errors: list[str] = field(default_factory=list)
    shadow_alerts: int = 0
    bad_lines: int = 0
    bad_by_code: Counter[str] = field(default_factory=Counter)
    by_detector: Counter[tuple[str, Severity]] = field(default_factory=Counter)
    order: str = ""  # which path put the events in order, and why
    jobs: int = 1
    peak_rss_bytes: int = 0  # the reading process
    job_peak_rss_bytes: list[int] = field(default_factory=list)  # each job process, if any
    cpu_s: float = 0.0  # CPU time of the reading process (the machine may be shared)
    job_cpu_s: list[float] = field(default_factory=list)  # of each job process
    wall_s: float = 0.0

    def bad(self, where: str, error: InvalidEvent) -> None:
        self.bad_lines += 1
        self.bad_by_code[error.code] += 1
        self.errors.append(f"{where}: {error}")

    def to_json(self) -> dict[str, object]:
        return {
            "events": self.events,
            "bad_lines": self.bad_lines,
            "bad_by_code": dict(self.bad_by_code),
            "alerts": self.alerts,
            "shadow_alerts": self.shadow_alerts,
            "alerts_by_detector": {
                f"{name} {severity.value}": n for (name, severity), n in self.by_detector.items()
            },
            "order": self.order,
            "jobs": self.jobs,
            "peak_rss_bytes": self.peak_rss_bytes,
            "job_peak_rss_bytes": self.job_peak_rss_bytes,
            "cpu_s": self.cpu_s,
            "job_cpu_s": self.job_cpu_s,
            "wall_s": self.wall_s,
        }

    def summary(self) -> list[str]:
        """The end of a run, after the one-line count: what, how, how much memory and time."""
        mb = 1 << 20
        lines = [f"bad lines by reason: {_counts(self.bad_by_code)}"] if self.bad_lines else []
        lines += [
            f"{name} {severity.value}: {n:,} alerts"
            for (name, severity), n in sorted(self.by_detector.items())
        ]
        memory = f"peak memory {self.peak_rss_bytes / mb:,.0f} MB"
        if self.job_peak_rss_bytes:
            each = ", ".join(f"{b / mb:,.0f}" for b in self.job_peak_rss_bytes)
            total = (self.peak_rss_bytes + sum(self.job_peak_rss_bytes)) / mb
            memory += f" + jobs {each} MB (at most {total:,.0f} MB together)"
        rate = self.events / self.wall_s if self.wall_s else 0.0
        cpu = ", ".join(f"{s:,.1f}" for s in (self.cpu_s, *self.job_cpu_s))
        return [
            *lines,
            f"order: {self.order}",
            f"{memory}; {self.jobs} job(s); wall {self.wall_s:,.1f} s ({rate:,.0f} events/s); "
            f"CPU s per process {cpu}",
        ]


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{code} {n:,}" for code, n in counter.most_common())


def peak_rss_bytes() -> int:
    """This process's peak resident memory (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class ProgressLine:
    """`backtest  42.0% 1,234,567 lines 120,345/s ETA 00:00:12` on stderr, now and then."""

    def __init__(self, stream: TextIO | None = None, *, enabled: bool = True) -> None:
        self._stream = stream or sys.stderr
        self._enabled = enabled
        self._tty = self._stream.isatty()
        self._start = time.monotonic()
        self._last = self._start
        self.label = "backtest"

    def restart(self, label: str) -> None:
        self.label = label
        self._start = self._last = time.monotonic()

    def update(self, done: int, unit: str, fraction: float | None, *, final: bool = False) -> None:
        """`done` lines (or records) read; `fraction` of the input, for the ETA."""
        now = time.monotonic()
        if not self._enabled or (not final and now - self._last < (0.2 if self._tty else 5.0)):
            return
        self._last = now
        elapsed = max(now - self._start, 1e-9)
        text = f"{done:,} {unit} {done / elapsed:,.0f}/s"
        if fraction is not None and not final:
            eta = elapsed * (1 - fraction) / fraction if fraction > 0 else 0.0
            text = (
                f"{100 * fraction:5.1f}% {text} ETA {time.strftime('%H:%M:%S', time.gmtime(eta))}"
            )
        text = f"{self.label} {text}"
        if self._tty:
            self._stream.write(f"\r{text}\033[K" + ("\n" if final else ""))
        else:
            self._stream.write(text + "\n")
        self._stream.flush()
