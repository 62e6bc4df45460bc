"""Offline replay: the stream's detector code over a file, in event-time order.

Sorting by (ts, event_id) is exactly the order the stream's reorder buffer gives each subject,
so a backtest and a live run over the same events produce the same alert ids.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from pathlib import Path

from streams.config import GuardlineConfig, Mode
from streams.engine.decisions import run_with_decisions
from streams.jsonl import alert_to_json, read_events, write_jsonl
from streams.model import Alert, Decision, Event


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


@dataclass(slots=True)
class BacktestReport:
    events: int = 0
    alerts: int = 0
    errors: list[str] = field(default_factory=list)
    shadow_alerts: int = 0


def backtest_file(
    src: Path, dst: Path, config: GuardlineConfig, decisions: Sequence[Decision] = ()
) -> BacktestReport:
    """Bad lines are reported with their line number and skipped; good ones still count."""
    report = BacktestReport()
    events: list[Event] = []
    for line_no, item in read_events(src):
        if isinstance(item, Event):
            events.append(item)
        else:
            report.errors.append(f"{src}:{line_no}: {item}")
    report.events = len(events)
    alerts = run_backtest(events, config, decisions)
    report.alerts = len(alerts)
    report.shadow_alerts = sum(1 for a in alerts if config.mode_of(a.detector) is Mode.SHADOW)
    write_jsonl(dst, (alert_to_json(a) for a in alerts))
    return report
