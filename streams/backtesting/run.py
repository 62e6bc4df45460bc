"""One backtest over a source of events: in one process or over `jobs` processes.

With one job, the reading process decodes, orders and applies (`Engine.process_all`). With
more, it only reads and hands blocks out; the job processes decode, route, apply and the
alerts are merged back in one job's order (`jobs.py`). Processes, not threads: decoding and
the engine are Python and would hold the GIL.

Order: first the reorder buffer (`order.InOrder`). If the input turns out disordered beyond
the release bound, everything is started again with the external sort, and the report says
so and why; a source that is never in order (a topic read partition by partition) goes
straight to the external sort.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

from streams.backtesting.jobs import Jobs
from streams.backtesting.order import ExternalSort, InOrder, Item, OutOfOrder
from streams.backtesting.report import BacktestReport, ProgressLine, peak_rss_bytes
from streams.backtesting.settings import Clock, Settings, collector_relaxed
from streams.backtesting.shard import EXPIRE_EVERY_MS, Shard
from streams.backtesting.source import EventSource
from streams.config import GuardlineConfig, Mode
from streams.jsonl import alert_to_json, json_line
from streams.model import Alert, Event

RUN_ITEMS: Final = 200_000
"""Items per sorted run of the external sort (~0.2 GB of events in memory at most)."""


def backtest_source(
    open_source: Callable[[], EventSource],
    dst: Path,
    config: GuardlineConfig,
    *,
    jobs: int = 1,
    progress: ProgressLine | None = None,
    run_items: int = RUN_ITEMS,
    clock: Clock | None = None,
    expire_every_ms: int = EXPIRE_EVERY_MS,
) -> BacktestReport:
    """Alerts of enforce and shadow detectors alike to `dst`, in the in-memory backtest's order."""
    started, cpu_started = time.monotonic(), time.process_time()
    settings = Settings(config, run_items, clock or Clock(), expire_every_ms)
    progress = progress or ProgressLine(enabled=False)
    with collector_relaxed(), tempfile.TemporaryDirectory(prefix="guardline-backtest-") as tmp:
        report = _run(open_source, dst, settings, jobs, progress, Path(tmp))
    report.peak_rss_bytes = peak_rss_bytes()
    report.cpu_s = time.process_time() - cpu_started
    report.wall_s = time.monotonic() - started
    for (name, _severity), n in report.by_detector.items():
        if config.mode_of(name) is Mode.SHADOW:
            report.shadow_alerts += n
    return report


def _run(
    open_source: Callable[[], EventSource],
    dst: Path,
    settings: Settings,
    jobs: int,
    progress: ProgressLine,
    tmp: Path,
) -> BacktestReport:
    """The reorder buffer first; the external sort from the start if that turns out wrong."""
    source = open_source()
    jobs = jobs if source.parallel else 1
    sort = source.needs_sort
    why = "the source is read partition by partition" if sort else ""
    try:
        while True:
            try:
                report = _one_pass(source, dst, settings, jobs, sort, tmp, progress)
                break
            except OutOfOrder as late:
                source.close()
                where = source.where(late.seq)
                why = f"{where} is {late.behind_ms:,} ms older than an event already applied"
                progress.restart("backtest (external sort)")
                source, sort = open_source(), True
    finally:
        source.close()
    report.order = (
        f"external sort ({report.order}): {why}" if sort else f"in order ({report.order})"
    )
    report.jobs = jobs
    return report


def _one_pass(
    source: EventSource,
    dst: Path,
    settings: Settings,
    jobs: int,
    sort: bool,
    tmp: Path,
    progress: ProgressLine,
) -> BacktestReport:
    report = BacktestReport()
    if jobs > 1:
        Jobs(settings, jobs, sort, tmp, source.decode_block).run(source, dst, report, progress)
        return report
    inline = _Inline(settings, sort, tmp, dst, report)
    try:
        for block in source.blocks():
            decoded = source.decode_block(block)
            items: list[Item] = [
                (event.ts_ms, event.event_id, seq, event, [])
                for seq, event in decoded
                if isinstance(event, Event)
            ]
            report.events += len(items)
            if len(items) < len(decoded):
                for seq, bad in decoded:
                    if not isinstance(bad, Event):
                        report.bad(source.where(seq), bad)
            inline.send(items)
            progress.update(source.done_items, source.unit, source.fraction_done())
        inline.finish(report)
    finally:
        inline.close()
    progress.update(source.done_items, source.unit, None, final=True)
    return report


class _Inline:
    """One job: order and apply in the reading process, alerts straight to the output.

    The engine routes each event itself (`Engine.process_all`, the in-memory backtest's path)."""

    def __init__(
        self, settings: Settings, sort: bool, tmp: Path, dst: Path, report: BacktestReport
    ) -> None:
        self._shard = Shard(
            settings.config, clock_ms=settings.clock, expire_every_ms=settings.expire_every_ms
        )
        self._order: InOrder | ExternalSort = (
            ExternalSort(tmp, settings.run_items) if sort else InOrder(settings.lateness_ms)
        )
        self._out = dst.open("wb")
        self._report = report

    def _write(self, alerts: list[Alert]) -> None:
        for alert in alerts:
            self._out.write(json_line(alert_to_json(alert)).encode())
            self._report.alerts += 1
            self._report.by_detector[(alert.detector, alert.severity)] += 1

    def send(self, items: list[Item]) -> None:
        order = self._order
        if isinstance(order, InOrder):
            self._write(self._shard.apply_all(order.push(items)))
        else:
            order.push(items)

    def finish(self, report: BacktestReport) -> None:
        order = self._order
        if isinstance(order, InOrder):
            self._write(self._shard.apply_all(order.drain()))
            report.order = f"reorder buffer, at most {order.most_held:,} events held"
        else:
            runs = len(order.runs)
            for chunk in order.merged_lists():
                self._write(self._shard.apply_all(chunk))
            report.order = f"{runs + 1} sorted runs"

    def close(self) -> None:
        self._out.close()
