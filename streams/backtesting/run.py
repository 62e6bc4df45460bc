"""One backtest over a source of events: in one process or over `jobs` processes.

With one job, the reading process decodes, orders and applies (`Engine.process_all`). With
more, it only reads: block b (~1 MiB of lines, or of records) goes to job b % jobs, which
decodes it, routes its events (`shard.Router`: subjects split as the stream partitions them)
and sends every other job the events of its subjects in that block. Each job applies, block
after block in input order, the events of its own subjects, and writes its alerts tagged
with their place in one job's order; the files are merged (`heapq.merge`) into the output.
Decoding, routing and the engine are thus all split; processes, not threads: it is all
Python and would hold the GIL.

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
import queue
import tempfile
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, BinaryIO, Final, Protocol

import msgspec

from streams.backtesting.order import ITEMS, ExternalSort, InOrder, Item, OutOfOrder, encode_items
from streams.backtesting.report import MAX_ERRORS, BacktestReport, ProgressLine, peak_rss_bytes
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
    """Blocks of raw input, and how to decode one into (position, event or why refused)."""

    needs_sort: bool  # never in time order: straight to the external sort
    parallel: bool  # `decode_block` can run in a job process (a module-level function)
    unit: str  # "lines", "records"

    @property
    def done_items(self) -> int:
        """Lines or records read so far."""

    def blocks(self) -> Iterator[bytes]: ...
    def decode_block(self, block: bytes, /) -> list[tuple[int, Event | InvalidEvent]]: ...
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
    started, cpu_started = time.monotonic(), time.process_time()
    settings = _Settings(config, run_items, clock or Clock(), expire_every_ms)
    progress = progress or ProgressLine(enabled=False)
    source = open_source()
    jobs = jobs if source.parallel else 1
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
    report.cpu_s = time.process_time() - cpu_started
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
    if jobs > 1:
        _Jobs(settings, jobs, sort, tmp, source.decode_block).run(source, dst, report, progress)
        return report
    inline = _Inline(settings, sort, tmp, dst, report)
    try:
        for block in source.blocks():
            items: list[Item] = []
            for seq, event in source.decode_block(block):
                if isinstance(event, Event):
                    report.events += 1
                    items.append((event.ts_ms, event.event_id, seq, event, []))
                else:
                    report.bad(source.where(seq), event)
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
            merged = order.merged()
            while chunk := list(itertools.islice(merged, 10_000)):
                self._write(self._shard.apply_all(chunk))
            report.order = f"{runs + 1} sorted runs"

    def close(self) -> None:
        self._out.close()


Decode = Callable[[bytes], list[tuple[int, Event | InvalidEvent]]]


class _Jobs:
    """The reading process's side: blocks out to the jobs in turn, their results back."""

    def __init__(
        self, settings: _Settings, jobs: int, sort: bool, tmp: Path, decode: Decode
    ) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.jobs = jobs
        self._outputs = [tmp / f"job-{job}.alerts" for job in range(jobs)]
        # Pipes: blocks to each job, results from each, and one from every job to every other.
        blocks = [ctx.Pipe(duplex=False) for _ in range(jobs)]  # (job reads, we write)
        results = [ctx.Pipe(duplex=False) for _ in range(jobs)]  # (we read, job writes)
        peers = {(a, b): ctx.Pipe(duplex=False) for a in range(jobs) for b in range(jobs) if a != b}
        self._blocks = [w for _r, w in blocks]
        self._results = [r for r, _w in results]
        self._procs: list[multiprocessing.process.BaseProcess] = []
        for job in range(jobs):
            spill = tmp / f"job-{job}"
            spill.mkdir(exist_ok=True)
            inbox = {a: peers[(a, job)][0] for a in range(jobs) if a != job}
            outbox = {b: peers[(job, b)][1] for b in range(jobs) if b != job}
            plan = _JobPlan(job, jobs, settings, sort, spill, self._outputs[job], decode)
            proc = ctx.Process(
                target=_job_main,
                args=(plan, blocks[job][0], results[job][1], inbox, outbox),
                name=f"guardline-backtest-job-{job}",
                daemon=True,
            )
            proc.start()
            self._procs.append(proc)
        for conn in [*(r for r, _w in blocks), *(w for _r, w in results)]:
            conn.close()
        for r, w in peers.values():
            r.close()
            w.close()

    def run(
        self, source: EventSource, dst: Path, report: BacktestReport, progress: ProgressLine
    ) -> None:
        try:
            for number, block in enumerate(source.blocks()):
                if any(conn.poll() for conn in self._results):
                    break  # a job met an event out of order (or failed): stop reading
                self._blocks[number % self.jobs].send_bytes(block)
                progress.update(source.done_items, source.unit, source.fraction_done())
            for conn in self._blocks:
                conn.send_bytes(b"")  # the end
            finals = [_final(conn) for conn in self._results]
        finally:
            self._close()
        progress.update(source.done_items, source.unit, None, final=True)
        _raise_for(finals)
        errors: list[tuple[int, str]] = []
        for final in finals:
            report.events += final["events"]
            report.bad_lines += final["bad_lines"]
            report.bad_by_code.update(final["bad_by_code"])
            errors += final["errors"]
            report.job_peak_rss_bytes.append(final["peak_rss"])
            report.job_cpu_s.append(final["cpu_s"])
        report.errors = [f"{source.where(seq)}: {text}" for seq, text in sorted(errors)]
        report.errors = report.errors[:MAX_ERRORS]
        report.order = "; ".join(f"job {job}: {f['order']}" for job, f in enumerate(finals))
        with dst.open("wb") as out:
            for record in heapq.merge(*(_read_tagged(path) for path in self._outputs)):
                out.write(record[7])
                report.alerts += 1
                report.by_detector[(record[5], Severity(record[6]))] += 1

    def _close(self) -> None:
        for conn in self._blocks:
            with contextlib.suppress(OSError):
                conn.close()
        for proc in self._procs:
            proc.join(timeout=60)
            if proc.is_alive():
                proc.kill()
        for conn in self._results:
            conn.close()


def _final(conn: Connection) -> dict[str, Any]:
    """A job's last word (an early notice of disorder comes first and is in it too)."""
    while True:
        message: dict[str, Any] = conn.recv()
        if message["kind"] != "notice":
            return message


def _raise_for(finals: list[dict[str, Any]]) -> None:
    for final in finals:
        if final["kind"] == "error":
            raise RuntimeError(f"a backtest job failed:\n{final['traceback']}")
    late = [final["late"] for final in finals if final["late"] is not None]
    if late:
        raise OutOfOrder(*min(late))


class _JobPlan:
    """What a job process needs to know (pickled to it)."""

    def __init__(
        self,
        job: int,
        jobs: int,
        settings: _Settings,
        sort: bool,
        spill: Path,
        output: Path,
        decode: Decode,
    ) -> None:
        self.job, self.jobs, self.settings, self.sort = job, jobs, settings, sort
        self.spill, self.output, self.decode = spill, output, decode


LOOKAHEAD_BLOCKS: Final = 4
"""Own blocks a job may decode ahead of the block it applies: it decodes while it waits for
another job's block, and its memory stays a few blocks of events."""


def _job_main(
    plan: _JobPlan,
    blocks: Connection,
    results: Connection,
    inbox: dict[int, Connection],
    outbox: dict[int, Connection],
) -> None:
    """A job process: decode its blocks, share the other jobs' events, apply its own."""
    try:
        with collector_relaxed(), plan.output.open("wb") as out:
            final = _Job(plan, blocks, results, inbox, outbox, out).run()
    except Exception:
        final = {"kind": "error", "traceback": traceback.format_exc(), "late": None}
    results.send(final)


class _Job:
    def __init__(
        self,
        plan: _JobPlan,
        blocks: Connection,
        results: Connection,
        inbox: dict[int, Connection],
        outbox: dict[int, Connection],
        out: BinaryIO,
    ) -> None:
        settings = plan.settings
        self.plan, self.blocks, self.results, self.outbox, self.out = (
            plan,
            blocks,
            results,
            outbox,
            out,
        )
        self.router = Router(settings.config, plan.jobs)
        self.shard = Shard(
            settings.config, clock_ms=settings.clock, expire_every_ms=settings.expire_every_ms
        )
        self.order: InOrder | ExternalSort = (
            ExternalSort(plan.spill, settings.run_items)
            if plan.sort
            else InOrder(_lateness(settings))
        )
        # Other jobs' blocks are read by threads as they come (a job never blocks another on
        # a full pipe) and taken in block order.
        self.inbox: dict[int, queue.SimpleQueue[bytes]] = {}
        for peer, conn in inbox.items():
            self.inbox[peer] = queue.SimpleQueue()
            threading.Thread(target=_receive, args=(conn, self.inbox[peer]), daemon=True).start()
        self.pending: dict[int, list[Item]] = {}  # own blocks decoded, not applied yet
        self.next_own = plan.job
        self.ended = False  # the reader sent the end
        self.late: tuple[int, int] | None = None
        self.alerts: list[Tagged] = []
        self.events = self.bad_lines = 0
        self.bad_by_code: Counter[str] = Counter()
        self.errors: list[tuple[int, str]] = []

    def run(self) -> dict[str, Any]:
        jobs, job = self.plan.jobs, self.plan.job
        for number in itertools.count():
            owner = number % jobs
            if owner == job:
                while number not in self.pending and not self.ended:
                    self._decode_next()
                if number not in self.pending:
                    break
                items = self.pending.pop(number)
            else:
                box = self.inbox[owner]
                while box.empty() and not self.ended and self._may_decode_ahead(number):
                    self._decode_next()
                data = box.get()
                if not data:
                    break  # that job had no block `number`: the input ended before it
                items = ITEMS.decode(data)
            self._apply(items)
        return self._finish()

    def _may_decode_ahead(self, applying: int) -> bool:
        return self.next_own < applying + LOOKAHEAD_BLOCKS * self.plan.jobs

    def _decode_next(self) -> None:
        data = self.blocks.recv_bytes()
        if not data:
            self.ended = True
            for conn in self.outbox.values():
                conn.send_bytes(b"")
            return
        per_job: list[list[Item]] = [[] for _ in range(self.plan.jobs)]
        split = self.router.split
        for seq, event in self.plan.decode(data):
            if not isinstance(event, Event):
                self.bad_lines += 1
                self.bad_by_code[event.code] += 1
                if len(self.errors) < MAX_ERRORS:
                    self.errors.append((seq, str(event)))
                continue
            self.events += 1
            routes = split(event)
            if routes is not None:
                for target, mine in enumerate(routes):
                    if mine:
                        per_job[target].append((event.ts_ms, event.event_id, seq, event, mine))
        for target, conn in self.outbox.items():
            conn.send_bytes(encode_items(per_job[target]))
        self.pending[self.next_own] = per_job[self.plan.job]
        self.next_own += self.plan.jobs

    def _apply(self, items: list[Item]) -> None:
        if self.late is not None:
            return  # out of order: the run starts again; only keep the blocks flowing
        try:
            if isinstance(self.order, InOrder):
                self.shard.apply_routes(self.order.push(items), self._emit)
            else:
                self.order.push(items)
        except OutOfOrder as late:
            self.late = (late.seq, late.behind_ms)
            self.results.send({"kind": "notice"})  # the reader stops sending blocks

    def _emit(self, tag: Tag, alert: Alert) -> None:
        line = json_line(alert_to_json(alert)).encode()
        self.alerts.append((*tag, alert.detector, alert.severity.value, line))
        if len(self.alerts) >= _FLUSH_ALERTS:
            _write_chunk(self.out, self.alerts)

    def _finish(self) -> dict[str, Any]:
        order = self.order
        if self.late is None and isinstance(order, InOrder):
            self.shard.apply_routes(order.drain(), self._emit)
            how = f"reorder buffer, at most {order.most_held:,} events held"
        elif self.late is None and isinstance(order, ExternalSort):
            runs = len(order.runs)
            self.shard.apply_routes(order.merged(), self._emit)
            how = f"{runs + 1} sorted runs"
        else:
            how = "stopped: out of order"
        _write_chunk(self.out, self.alerts)
        return {
            "kind": "done",
            "late": self.late,
            "events": self.events,
            "bad_lines": self.bad_lines,
            "bad_by_code": dict(self.bad_by_code),
            "errors": self.errors,
            "peak_rss": peak_rss_bytes(),
            "cpu_s": time.process_time(),
            "order": how,
        }


def _receive(conn: Connection, box: queue.SimpleQueue[bytes]) -> None:
    """Another job's blocks, as they come; b"" (its end, or its death) ends them."""
    try:
        while data := conn.recv_bytes():
            box.put(data)
    except (EOFError, OSError):
        pass
    box.put(b"")


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
