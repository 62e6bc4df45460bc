"""`--jobs N`: the reading process hands out blocks, N job processes do the rest.

Block b goes to job b % N, which decodes it, routes its events (`shard.Router`: subjects split
as the stream partitions them) and sends every other job the events of its subjects in that
block. Each job applies, block after block in input order, the events of its own subjects
through its own reorder buffer or external sort, and writes its alerts tagged with their place
in one job's order (`shard.Tag`); the reading process merges the jobs' files back in that
order. Blocks from the reader and from other jobs are taken off their pipes by threads as
they come (no process waits on a busy one); a job decodes and shares its own blocks as soon
as they come, at most `LOOKAHEAD_BLOCKS` ahead of the block it applies.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import multiprocessing
import queue
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, BinaryIO, Final

import msgspec

from streams.backtesting.decode import Decoded
from streams.backtesting.order import ITEMS, ExternalSort, InOrder, Item, OutOfOrder, encode_items
from streams.backtesting.report import BacktestReport, ProgressLine, peak_rss_bytes
from streams.backtesting.settings import Settings, collector_relaxed
from streams.backtesting.shard import DetectorFailed, Router, Shard, Tag
from streams.backtesting.source import EventSource
from streams.jsonl import alert_to_json, json_line
from streams.model import Alert, Event, Severity

Tagged = tuple[int, str, int, int, int, str, str, bytes]
"""A job's alert: its `Tag`, detector, severity and JSON line."""
_TAGGED: Final = msgspec.msgpack.Decoder(list[Tagged])
_ENCODE: Final = msgspec.msgpack.Encoder().encode
_FLUSH_ALERTS: Final = 1024


Decode = Callable[[bytes], Decoded]


class Jobs:
    """The reading process's side: blocks out to the jobs in turn, their results back."""

    def __init__(
        self, settings: Settings, jobs: int, sort: bool, tmp: Path, decode: Decode
    ) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.jobs = jobs
        self._outputs = [tmp / f"job-{job}.alerts" for job in range(jobs)]
        # Pipes: blocks to each job, results from each, and one from every job to every other.
        blocks = [ctx.Pipe(duplex=False) for _ in range(jobs)]  # (job reads, we write)
        results = [ctx.Pipe(duplex=False) for _ in range(jobs)]  # (we read, job writes)
        peers = {(a, b): ctx.Pipe(duplex=False) for a in range(jobs) for b in range(jobs) if a != b}
        for reader, _writer in [*blocks, *peers.values()]:
            _widen(reader)
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


PIPE_BYTES: Final = 1 << 20
"""A pipe's buffer (Linux: 64 KiB unless widened, at most `/proc/sys/fs/pipe-max-size`, 1 MiB
by default). A job's share of a block for another job (~0.7 MB) then goes in one write: with
64 KiB the sender sat blocked while the receiving thread, waking once per GIL switch interval
(5 ms) in a busy process, took it 64 KiB at a time (1.3-1.6 s per job on 500k events)."""


def _widen(conn: Connection) -> None:
    """A pipe's buffer to `PIPE_BYTES` where the system allows (Linux); elsewhere unchanged."""
    with contextlib.suppress(ImportError, AttributeError, OSError):
        import fcntl

        fcntl.fcntl(conn.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)


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
        if final["kind"] == "detector_failed":
            raise DetectorFailed
    late = [final["late"] for final in finals if final["late"] is not None]
    if late:
        raise OutOfOrder(*min(late))


class _JobPlan:
    """What a job process needs to know (pickled to it)."""

    def __init__(
        self,
        job: int,
        jobs: int,
        settings: Settings,
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
    except DetectorFailed:
        final = {"kind": "detector_failed", "late": None}
    except Exception:
        final = {"kind": "error", "traceback": traceback.format_exc(), "late": None}
    results.send(final)


class _Job:
    """One job's loop: its own blocks decoded (a few ahead), every block applied in order."""

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
        self.plan = plan
        # Own blocks are taken off the reader's pipe by a thread as they come (the reader never
        # waits on a job busy applying, which kept the other job waiting for its blocks), at
        # most `LOOKAHEAD_BLOCKS` held undecoded.
        self.blocks: queue.Queue[bytes] = queue.Queue(LOOKAHEAD_BLOCKS)
        threading.Thread(target=_receive, args=(blocks, self.blocks), daemon=True).start()
        self.results = results  # to the reader
        self.outbox = outbox  # to each other job
        self.out = out  # tagged alerts
        self.router = Router(settings.config, plan.jobs)
        self.shard = Shard(
            settings.config, clock_ms=settings.clock, expire_every_ms=settings.expire_every_ms
        )
        self.order: InOrder | ExternalSort = (
            ExternalSort(plan.spill, settings.run_items)
            if plan.sort
            else InOrder(settings.lateness_ms)
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
            self._decode_received(number)
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

    def _decode_received(self, applying: int) -> None:
        """Own blocks already received, decoded and shared before applying more: the other
        jobs need their events from them (a job decoding only when it needed a block itself
        left the others waiting)."""
        while not self.ended and self._may_decode_ahead(applying) and not self.blocks.empty():
            self._decode_next()

    def _decode_next(self) -> None:
        data = self.blocks.get()
        if not data:
            self.ended = True
            for conn in self.outbox.values():
                # A peer that reached the end of the input first has finished and closed its
                # side: it needs no end marker (seen once in CI as a BrokenPipeError).
                with contextlib.suppress(BrokenPipeError):
                    conn.send_bytes(b"")
            return
        events: list[tuple[int, Event]] = []
        for seq, event in self.plan.decode(data):
            if isinstance(event, Event):
                events.append((seq, event))
            else:
                self.bad_lines += 1
                self.bad_by_code[event.code] += 1
                self.errors.append((seq, str(event)))
        self.events += len(events)
        per_job = self.router.split(events)
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
            for chunk in order.merged_lists():
                self.shard.apply_routes(chunk, self._emit)
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


def _receive(conn: Connection, box: queue.SimpleQueue[bytes] | queue.Queue[bytes]) -> None:
    """Blocks from the reader or another job, as they come; b"" (its end, or its death) ends
    them."""
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
