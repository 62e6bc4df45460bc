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

import bisect
import heapq
import itertools
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Final

import msgspec

from streams.engine.reorder import release_bound
from streams.model import Event

Route = tuple[int, str, int]
"""(place among the event's routes, subject key, the detectors that want it there as a
`shard.DetectorCode`)."""
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
    """Items released in (ts, event_id, seq) order once the release bound has passed them.

    The held items are one sorted list: a batch is appended and the list sorted again, which
    for input in order or nearly so is a merge of two runs (timsort), and the released items
    are its front, cut at the bound. (A heap cost a push and a pop of log n comparisons per
    item.)"""

    def __init__(self, lateness_ms: int) -> None:
        self._held: list[Item] = []
        self._lateness_ms = lateness_ms
        self._watermark = -1
        self._last: tuple[int, str, int] = (-1, "", -1)  # the last item released
        self.most_held = 0

    def push(self, items: Iterable[Item]) -> list[Item]:
        """Take items in input order; return those now released (raises `OutOfOrder`)."""
        held = self._held
        held += items
        if not held:
            return []
        held.sort()
        if held[0][:3] < self._last:
            self._refuse(held)
        self._watermark = max(self._watermark, held[-1][0])
        self.most_held = max(self.most_held, len(held))
        bound = release_bound({0: self._watermark}, set(), 1, self._lateness_ms)
        if bound is None:
            return []
        cut = bisect.bisect_right(held, bound, key=_ts)
        released = held[:cut]
        del held[:cut]
        return self._released(released)

    def drain(self) -> list[Item]:
        released, self._held = self._held, []
        return self._released(released)

    def _released(self, items: list[Item]) -> list[Item]:
        if items:
            self._last = items[-1][:3]
        return items

    def _refuse(self, held: list[Item]) -> None:
        """The first item in input order older than the last released one."""
        last = self._last
        late = min((item for item in held if item[:3] < last), key=_seq)
        raise OutOfOrder(late[2], last[0] - late[0])


def _ts(item: Item) -> int:
    return item[0]


def _seq(item: Item) -> int:
    return item[2]


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

    def merged_lists(self, size: int = 10_000) -> Iterator[list[Item]]:
        """`merged`, in lists of up to `size` items (what `shard.Shard` applies)."""
        merged = self.merged()
        while chunk := list(itertools.islice(merged, size)):
            yield chunk

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
