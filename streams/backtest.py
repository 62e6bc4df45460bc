"""Offline replay: the stream's detector code over recorded events, in event-time order.

Sorting by (ts, event_id) is exactly the order the stream's reorder buffer gives each subject,
so a backtest and a live run over the same events produce the same alert ids. `run_backtest`
holds every event in memory (the reference, and what small in-process runs use);
`backtest_file` streams a file of any size through `streams.backtesting`, over several
processes if asked, with the same alerts in the same order.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from operator import attrgetter
from pathlib import Path

from streams.backtesting.report import BacktestReport, ProgressLine
from streams.backtesting.run import backtest_source
from streams.backtesting.shard import DetectorFailed
from streams.backtesting.source import FileEvents
from streams.config import GuardlineConfig, Mode
from streams.engine.decisions import run_with_decisions
from streams.jsonl import alert_to_json, read_events, write_jsonl
from streams.model import Alert, Decision, Event

__all__ = ["BacktestReport", "backtest_file", "run_backtest"]


def run_backtest(
    events: Iterable[Event], config: GuardlineConfig, decisions: Sequence[Decision] = ()
) -> list[Alert]:
    """Alerts from enforce-mode and shadow-mode detectors alike, in emission order; moderator
    `decisions` (a decisions file) are applied where the stream applies them."""
    engine = config.new_engine(clock_ms=lambda: int(time.time() * 1000))
    ordered = sorted(events, key=attrgetter("ts_ms", "event_id"))
    if decisions:  # the hook for decisions: see streams/engine/decisions.py
        return run_with_decisions(engine, ordered, decisions)
    return engine.process_all(ordered)


def backtest_file(
    src: Path,
    dst: Path,
    config: GuardlineConfig,
    decisions: Sequence[Decision] = (),
    *,
    jobs: int = 1,
    progress: ProgressLine | None = None,
) -> BacktestReport:
    """Bad lines are reported with their line number and skipped; good ones still count.

    Streamed, in bounded memory (`streams/backtesting/`), unless moderator decisions are
    given or a detector fails on an event: both need a subject's whole history (a decision
    applies at its place among every event; a failed subject is rebuilt from every earlier
    event), which only the in-memory path keeps, so those runs take it and say so."""
    if not decisions:
        try:
            return backtest_source(
                lambda: FileEvents(src), dst, config, jobs=jobs, progress=progress
            )
        except DetectorFailed:
            why = "a detector failed on an event"
    else:
        why = "moderator decisions"
    started = time.monotonic()
    report = BacktestReport()
    events: list[Event] = []
    for line_no, item in read_events(src):
        if isinstance(item, Event):
            events.append(item)
        else:
            report.bad(f"{src}:{line_no}", item)
    report.events = len(events)
    alerts = run_backtest(events, config, decisions)
    for alert in alerts:
        report.by_detector[(alert.detector, alert.severity)] += 1
    report.alerts = len(alerts)
    report.shadow_alerts = sum(1 for a in alerts if config.mode_of(a.detector) is Mode.SHADOW)
    report.order = f"in memory, sorted ({why})"
    report.wall_s = time.monotonic() - started
    write_jsonl(dst, (alert_to_json(a) for a in alerts))
    return report
