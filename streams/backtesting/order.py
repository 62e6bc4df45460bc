"""Event-time order for a backtest: the stream's release bound, or an external sort.

An item is `(ts_ms, event_id, seq, event, routes)`: `seq` is its place in the input (line
number), so items compare by (ts, event_id), then input order, exactly as the in-memory
backtest's stable sort orders them, and never reach the event itself.

`InOrder` releases items as the detect stage does with one input partition (the file), up to
`streams.engine.reorder.release_bound`: memory is the events within the allowed lateness of
the newest. An item older than one already released cannot be put in its place any more:
`OutOfOrder` says so, and the caller starts again with `ExternalSort`, which writes sorted runs
of `run_items` items to disk and merges them (`heapq.merge`): memory is one run, whatever the
disorder.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Final

import msgspec

from streams.engine.reorder import ReorderBuffer, release_bound
from streams.model import Event

Route = tuple[int, str, tuple[str, ...]]
"""(place among the event's routes, subject key, names of the detectors that want it there)."""
Item = tuple[int, str, int, Event, list[Route]]
"""(ts_ms, event_id, seq, event, routes): the routes are those of one job (empty: all)."""

ITEMS: Final = msgspec.msgpack.Decoder(list[Item])
_ENCODE: Final = msgspec.msgpack.Encoder().encode
_CHUNK_ITEMS: Final = 4096


def encode_items(items: list[Item]) -> bytes:
    return _ENCODE(items)


class OutOfOrder(Exception):
    """An item arrived after a later one was applied: this input needs the external sort."""

    def __init__(self, seq: int, behind_ms: int) -> None:
        super().__init__(f"item {seq} is {behind_ms} ms older than an event already applied")
        self.seq = seq
        self.behind_ms = behind_ms


class InOrder:
    """Items released in (ts, event_id, seq) order once the release bound has passed them."""

    def __init__(self, lateness_ms: int) -> None:
        self._buffer: ReorderBuffer[Item] = ReorderBuffer()
        self._lateness_ms = lateness_ms
        self._watermark = -1
        self._last: tuple[int, str, int] = (-1, "", -1)  # the last item released
        self.most_held = 0

    def push(self, items: Iterable[Item]) -> list[Item]:
        """Take items in input order; return those now released (raises `OutOfOrder`)."""
        buffer, last = self._buffer, self._last
        watermark = self._watermark
        for item in items:
            ts = item[0]
            if ts <= last[0] and item[:3] < last:
                raise OutOfOrder(item[2], last[0] - ts)
            buffer.push(ts, item[1], item)
            if ts > watermark:
                watermark = ts
        self._watermark = watermark
        self.most_held = max(self.most_held, len(buffer))
        bound = release_bound({0: watermark}, set(), 1, self._lateness_ms)
        return self._released(buffer.release_until(bound) if bound is not None else [])

    def drain(self) -> list[Item]:
        return self._released(self._buffer.drain())

    def _released(self, items: list[Item]) -> list[Item]:
        if items:
            self._last = items[-1][:3]
        return items


class ExternalSort:
    """Sorted runs on disk, merged: the order of `sorted(items)` in bounded memory."""

    def __init__(self, directory: Path, run_items: int) -> None:
        self._directory = directory
        self._run_items = run_items
        self._current: list[Item] = []
        self.runs: list[Path] = []

    def push(self, items: Iterable[Item]) -> None:
        current = self._current
        for item in items:
            current.append(item)
            if len(current) >= self._run_items:
                self._spill()
                current = self._current

    def merged(self) -> Iterator[Item]:
        """Every item pushed, in order; the runs are deleted as they are used up."""
        self._current.sort()
        return heapq.merge(*(_read_run(path) for path in self.runs), self._current)

    def _spill(self) -> None:
        self._current.sort()
        path = self._directory / f"run-{len(self.runs):05d}.msgpack"
        with path.open("wb") as out:
            items = self._current
            for start in range(0, len(items), _CHUNK_ITEMS):
                data = encode_items(items[start : start + _CHUNK_ITEMS])
                out.write(len(data).to_bytes(4, "little"))
                out.write(data)
        self.runs.append(path)
        self._current = []


def _read_run(path: Path) -> Iterator[Item]:
    with path.open("rb") as run:
        while size := run.read(4):
            yield from ITEMS.decode(run.read(int.from_bytes(size, "little")))
    path.unlink()
