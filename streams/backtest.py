"""Offline replay: the stream's detector code over recorded events, in event-time order.

Sorting by (ts, event_id) is exactly the order the stream's reorder buffer gives each subject,
so a backtest and a live run over the same events produce the same alert ids. `run_backtest`
holds every event in memory (the reference, and what small in-process runs use);
`backtest_file` streams a file of any size through `streams.backtesting`, over several
processes if asked, with the same alerts in the same order.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from operator import attrgetter
from pathlib import Path

from streams.backtesting.report import BacktestReport, ProgressLine
from streams.backtesting.run import backtest_source
from streams.backtesting.source import FileEvents
from streams.config import GuardlineConfig
from streams.model import Alert, Event

__all__ = ["BacktestReport", "backtest_file", "run_backtest"]


def run_backtest(events: Iterable[Event], config: GuardlineConfig) -> list[Alert]:
    """Alerts from enforce-mode and shadow-mode detectors alike, in emission order."""
    engine = config.new_engine(clock_ms=lambda: int(time.time() * 1000))
    return engine.process_all(sorted(events, key=attrgetter("ts_ms", "event_id")))


def backtest_file(
    src: Path,
    dst: Path,
    config: GuardlineConfig,
    *,
    jobs: int = 1,
    progress: ProgressLine | None = None,
) -> BacktestReport:
    """Bad lines are reported with their line number and skipped; good ones still count."""
    return backtest_source(lambda: FileEvents(src), dst, config, jobs=jobs, progress=progress)
