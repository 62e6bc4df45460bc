"""What every process of a backtest shares: its settings, the alerts' clock, the GC step."""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Iterator

from streams.config import GuardlineConfig


class Clock:
    """Emission time of alerts: the wall clock, or a fixed value (tests, golden files)."""

    def __init__(self, fixed_ms: int | None = None) -> None:
        self.fixed_ms = fixed_ms

    def __call__(self) -> int:
        return self.fixed_ms if self.fixed_ms is not None else int(time.time() * 1000)


class Settings:
    """What the reading process and every job need to know (pickled to the jobs)."""

    def __init__(
        self, config: GuardlineConfig, run_items: int, clock: Clock, expire_every_ms: int
    ) -> None:
        self.config = config
        self.run_items = run_items
        self.clock = clock
        self.expire_every_ms = expire_every_ms

    @property
    def lateness_ms(self) -> int:
        return self.config.engine.allowed_lateness_ms


@contextlib.contextmanager
def collector_relaxed() -> Iterator[None]:
    """The cyclic GC at a 100,000-allocation step instead of 700: with the engine's state and
    a batch of events alive, the default step made collections ~40% of a backtest's CPU."""
    thresholds = gc.get_threshold()
    gc.set_threshold(100_000, 50, 50)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
