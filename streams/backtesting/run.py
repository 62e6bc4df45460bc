"""One backtest over a source of events: in one process or over `jobs` processes.

The reading process decodes, counts bad input and routes every event (`shard.Router`); with
one job it also applies them, with more each job process applies the routes of its own
subjects and writes its alerts, tagged with their place in one job's order, to a file; the
files are merged (`heapq.merge`) into the output. Processes, not threads: the engine is
pure Python and would hold the GIL.

Order: first the reorder buffer (`order.InOrder`). If the input turns out disordered beyond
the release bound, everything is started again with the external sort, and the report says
so and why; a source that is never in order (a topic read partition by partition) goes
straight to the external sort.
"""

from __future__ import annotations

import contextlib
import gc
import heapq
import itertools
import multiprocessing
import tempfile
import time
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, BinaryIO, Final, Protocol

import msgspec

from streams.backtesting.order import ITEMS, ExternalSort, InOrder, Item, OutOfOrder, encode_items
from streams.backtesting.report import BacktestReport, ProgressLine, peak_rss_bytes
from streams.backtesting.shard import EXPIRE_EVERY_MS, Router, Shard, Tag
from streams.config import GuardlineConfig, Mode
from streams.jsonl import alert_to_json, json_line
from streams.model import Alert, Event, Severity
from streams.validation import InvalidEvent

RUN_ITEMS: Final = 200_000
"""Items per sorted run of the external sort (~0.2 GB of events in memory at most)."""

Tagged = tuple[int, str, int, int, int, str, str, bytes]
"""A job's alert: its `Tag`, detector, severity and JSON line."""
_TAGGED: Final = msgspec.msgpack.Decoder(list[Tagged])
_ENCODE: Final = msgspec.msgpack.Encoder().encode
_FLUSH_ALERTS: Final = 1024


class EventSource(Protocol):
    """Batches of (position, event or why it was refused); `where` names a position."""

    needs_sort: bool

    def batches(self) -> Iterator[list[tuple[int, Event | InvalidEvent]]]: ...
    def where(self, seq: int) -> str: ...
    def fraction_done(self) -> float | None: ...
    def close(self) -> None: ...


class Clock:
    """Emission time of alerts: the wall clock, or a fixed value (tests, golden files)."""

    def __init__(self, fixed_ms: int | None = None) -> None:
        self.fixed_ms = fixed_ms

    def __call__(self) -> int:
        return self.fixed_ms if self.fixed_ms is not None else int(time.time() * 1000)


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
    with collector_relaxed():
        return _backtest_source(
            open_source, dst, config, jobs, progress, run_items, clock, expire_every_ms
        )


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


def _backtest_source(
    open_source: Callable[[], EventSource],
    dst: Path,
    config: GuardlineConfig,
    jobs: int,
    progress: ProgressLine | None,
    run_items: int,
    clock: Clock | None,
    expire_every_ms: int,
) -> BacktestReport:
    started = time.monotonic()
    settings = _Settings(config, run_items, clock or Clock(), expire_every_ms)
    progress = progress or ProgressLine(enabled=False)
    source = open_source()
    sort = source.needs_sort
    why = "the source is read partition by partition" if sort else ""
    with tempfile.TemporaryDirectory(prefix="guardline-backtest-") as tmp:
        while True:
            try:
                report = _one_pass(source, dst, settings, jobs, sort, Path(tmp), progress)
                break
            except OutOfOrder as late:
                source.close()
                where = source.where(late.seq)
                why = f"{where} is {late.behind_ms:,} ms older than an event already applied"
                progress.restart("backtest (external sort)")
                source, sort = open_source(), True
        source.close()
    report.order = (
        f"external sort ({report.order}): {why}" if sort else f"in order ({report.order})"
    )
    report.jobs = jobs
    report.peak_rss_bytes = peak_rss_bytes()
    report.wall_s = time.monotonic() - started
    for tag in report.by_detector:
        if config.mode_of(tag[0]) is Mode.SHADOW:
            report.shadow_alerts += report.by_detector[tag]
    return report


class _Settings:
    def __init__(
        self, config: GuardlineConfig, run_items: int, clock: Clock, expire_every_ms: int
    ) -> None:
        self.config = config
        self.run_items = run_items
        self.clock = clock
        self.expire_every_ms = expire_every_ms


def _one_pass(
    source: EventSource,
    dst: Path,
    settings: _Settings,
    jobs: int,
    sort: bool,
    tmp: Path,
    progress: ProgressLine,
) -> BacktestReport:
    report = BacktestReport()
    router = Router(settings.config, jobs)
    work = (
        _Inline(settings, sort, tmp, dst, report) if jobs == 1 else _Jobs(settings, jobs, sort, tmp)
    )
    try:
        for batch in source.batches():
            per_job: list[list[Item]] = [[] for _ in range(jobs)]
            for seq, event in batch:
                if not isinstance(event, Event):
                    report.bad(source.where(seq), event)
                    continue
                report.events += 1
                if jobs == 1:  # the engine routes it (`Engine.process_all`)
                    per_job[0].append((event.ts_ms, event.event_id, seq, event, []))
                elif (split := router.split(event)) is not None:
                    for job, routes in enumerate(split):
                        if routes:
                            per_job[job].append((event.ts_ms, event.event_id, seq, event, routes))
            work.send(per_job)
            progress.update(report.events, source.fraction_done())
        work.finish(dst, report)
    finally:
        work.close()
    progress.update(report.events, None, final=True)
    return report


class _Inline:
    """One job: order and apply in the reading process, alerts straight to the output."""

    def __init__(
        self, settings: _Settings, sort: bool, tmp: Path, dst: Path, report: BacktestReport
    ) -> None:
        self._shard = Shard(
            settings.config, clock_ms=settings.clock, expire_every_ms=settings.expire_every_ms
        )
        self._order: InOrder | ExternalSort = (
            ExternalSort(tmp, settings.run_items) if sort else InOrder(_lateness(settings))
        )
        self._out = dst.open("wb")
        self._report = report

    def _write(self, alerts: list[Alert]) -> None:
        for alert in alerts:
            self._out.write(json_line(alert_to_json(alert)).encode())
            self._report.alerts += 1
            self._report.by_detector[(alert.detector, alert.severity)] += 1

    def send(self, per_job: list[list[Item]]) -> None:
        order = self._order
        if isinstance(order, InOrder):
            self._write(self._shard.apply_all(order.push(per_job[0])))
        else:
            order.push(per_job[0])

    def finish(self, dst: Path, report: BacktestReport) -> None:
        order = self._order
        if isinstance(order, InOrder):
            self._write(self._shard.apply_all(order.drain()))
            report.order = f"reorder buffer, at most {order.most_held:,} events held"
        else:
            runs = len(order.runs)
            merged = order.merged()
            while chunk := list(itertools.islice(merged, 10_000)):
                self._write(self._shard.apply_all(chunk))
            report.order = f"{runs + 1} sorted runs"

    def close(self) -> None:
        self._out.close()


class _Jobs:
    """`jobs` processes, each applying the routes of its own subjects (`partition_for`)."""

    def __init__(self, settings: _Settings, jobs: int, sort: bool, tmp: Path) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conns: list[Connection] = []
        self._procs: list[multiprocessing.process.BaseProcess] = []
        self._outputs = [tmp / f"job-{job}.alerts" for job in range(jobs)]
        for job in range(jobs):
            ours, theirs = ctx.Pipe()
            spill = tmp / f"job-{job}"
            spill.mkdir(exist_ok=True)
            proc = ctx.Process(
                target=_job_main,
                args=(theirs, settings, sort, spill, self._outputs[job]),
                name=f"guardline-backtest-job-{job}",
                daemon=True,
            )
            proc.start()
            theirs.close()
            self._conns.append(ours)
            self._procs.append(proc)

    def send(self, per_job: list[list[Item]]) -> None:
        for conn, items in zip(self._conns, per_job, strict=True):
            if conn.poll():  # a job only speaks early to say the input is out of order
                _raise_for(conn.recv())
            if items:
                conn.send_bytes(encode_items(items))

    def finish(self, dst: Path, report: BacktestReport) -> None:
        for conn in self._conns:
            conn.send_bytes(b"")
        done = [conn.recv() for conn in self._conns]
        for message in done:
            _raise_for(message)
        report.job_peak_rss_bytes = [message[1] for message in done]
        report.order = (
            done[0][2]
            if len(done) == 1
            else "; ".join(f"job {job}: {message[2]}" for job, message in enumerate(done))
        )
        with dst.open("wb") as out:
            for record in heapq.merge(*(_read_tagged(path) for path in self._outputs)):
                out.write(record[7])
                report.alerts += 1
                report.by_detector[(record[5], Severity(record[6]))] += 1

    def close(self) -> None:
        for conn in self._conns:
            with contextlib.suppress(OSError):
                conn.send_bytes(b"")  # after an error: let every job end
        for proc in self._procs:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.kill()
        for conn in self._conns:
            conn.close()


def _raise_for(message: tuple[Any, ...]) -> None:
    if message[0] == "out_of_order":
        raise OutOfOrder(message[1], message[2])
    if message[0] == "error":
        raise RuntimeError(f"a backtest job failed:\n{message[1]}")


def _job_main(conn: Connection, settings: _Settings, sort: bool, spill: Path, output: Path) -> None:
    """A job process: items from the reader, in order, through its engine; tagged alerts out."""
    import traceback

    try:
        with collector_relaxed(), output.open("wb") as out:
            message = _apply_job(conn, settings, sort, spill, out)
    except OutOfOrder as late:
        message = ("out_of_order", late.seq, late.behind_ms)
    except Exception:
        message = ("error", traceback.format_exc())
    if message[0] != "done":
        conn.send(message)
        while conn.recv_bytes():  # the reader stops at its next batch; read until it says so
            pass
        return
    conn.send(message)


def _apply_job(
    conn: Connection, settings: _Settings, sort: bool, spill: Path, out: BinaryIO
) -> tuple[Any, ...]:
    shard = Shard(
        settings.config, clock_ms=settings.clock, expire_every_ms=settings.expire_every_ms
    )
    pending: list[Tagged] = []

    def emit(tag: Tag, alert: Alert) -> None:
        line = json_line(alert_to_json(alert)).encode()
        pending.append((*tag, alert.detector, alert.severity.value, line))
        if len(pending) >= _FLUSH_ALERTS:
            _write_chunk(out, pending)

    if sort:
        external = ExternalSort(spill, settings.run_items)
        while data := conn.recv_bytes():
            external.push(ITEMS.decode(data))
        runs = len(external.runs)
        shard.apply_routes(external.merged(), emit)
        how = f"{runs + 1} sorted runs"
    else:
        in_order = InOrder(_lateness(settings))
        while data := conn.recv_bytes():
            shard.apply_routes(in_order.push(ITEMS.decode(data)), emit)
        shard.apply_routes(in_order.drain(), emit)
        how = f"reorder buffer, at most {in_order.most_held:,} events held"
    _write_chunk(out, pending)
    return ("done", peak_rss_bytes(), how)


def _write_chunk(out: BinaryIO, records: list[Tagged]) -> None:
    if records:
        data = _ENCODE(records)
        out.write(len(data).to_bytes(4, "little"))
        out.write(data)
        records.clear()


def _read_tagged(path: Path) -> Iterator[Tagged]:
    with path.open("rb") as records:
        while size := records.read(4):
            yield from _TAGGED.decode(records.read(int.from_bytes(size, "little")))


def _lateness(settings: _Settings) -> int:
    return settings.config.engine.allowed_lateness_ms
