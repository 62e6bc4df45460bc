"""Routing events to subjects, and one partition of the subjects applying them.

The stream's route stage re-keys each event by subject (`Engine.routes`) and sends each
subject's copy to the partition `partition_for(key, n)`; its detect stage applies them with
`Engine.apply`. A backtest over `n` jobs splits the same way: each job routes the events of
its blocks (`Router`) and applies the routes of its own subjects (`Shard`). Every alert is
tagged with its place in the order one process emits them, (ts, event_id, seq) of its event,
then its route's place among
the event's routes, then its place among that route's alerts, so the jobs' alerts merge back
into exactly one job's sequence.
"""

from __future__ import annotations

import bisect
import operator
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Final

from streams.backtesting.order import Item, Route
from streams.config import GuardlineConfig
from streams.detectors.contract import Detector
from streams.model import Alert, Event
from streams.pipeline.partition import partition_for

EXPIRE_EVERY_MS: Final = 6 * 3_600_000
"""State that fell out of every window is forgotten every 6 hours of event time: memory is
bounded by what the windows hold, not by how many subjects the file ever saw. (Each expiry
walks every subject: hourly, it was 11% of a 200k-event backtest's time.)"""

_MAX_KEYS: Final = 1_000_000
_TS: Final = operator.itemgetter(0)  # an item's time
_SEGMENT_ITEMS: Final = 10_000  # a run is cut there too: memory stays a run, not 6 h of events

Tag = tuple[int, str, int, int, int]
"""(ts_ms, event_id, seq, route place, alert place): one job's emission order."""


class Router:
    """Each event's routes, split by the job that owns each subject.

    A route names its detectors by a number (`DetectorCode`) rather than by their names, as
    the route stage's packets do: jobs built from one config agree on it, and a number costs
    nothing to ship and look up."""

    def __init__(self, config: GuardlineConfig, jobs: int) -> None:
        self._engine = config.new_engine()
        self._codes = DetectorCode(self._engine.detectors)
        self._jobs_of: dict[str, int] = {}  # partition_for, remembered: subjects recur
        self.jobs = jobs

    def split(self, events: Iterable[tuple[int, Event]]) -> list[list[Item]]:
        """One list of items per job: each event with the routes of that job's subjects, if
        any (an event that updates no subject is in none); the route places count across
        jobs, as in `Engine.routes`."""
        per_job: list[list[Item]] = [[] for _ in range(self.jobs)]
        candidates, routes = self._engine.candidates, self._codes.routes
        jobs_of = self._jobs_of
        for seq, event in events:
            routed = routes(candidates(event), event)
            if not routed:
                continue
            mine: dict[int, list[Route]] = {}
            for place, (key, code) in enumerate(routed.items()):
                job = jobs_of.get(key)
                if job is None:
                    job = self._job_of(key)
                held = mine.get(job)
                if held is None:
                    mine[job] = [(place, key, code)]
                else:
                    held.append((place, key, code))
            ts, event_id = event.ts_ms, event.event_id
            for job, held in mine.items():
                per_job[job].append((ts, event_id, seq, event, held))
        return per_job

    def _job_of(self, key: str) -> int:
        if len(self._jobs_of) >= _MAX_KEYS:
            self._jobs_of.clear()  # bounded memory; the next events fill it again
        job = self._jobs_of[key] = partition_for(key, self.jobs)
        return job


class DetectorCode:
    """A sequence of an engine's detectors as one int and back: their places in the engine's
    order, as digits (so order and repeats are kept, as a list of names keeps them)."""

    def __init__(self, detectors: Sequence[Detector]) -> None:
        self._detectors = tuple(detectors)
        self._place = {d: i + 1 for i, d in enumerate(self._detectors)}
        self._base = len(self._detectors) + 1
        self._sequences: dict[int, tuple[Detector, ...]] = {}

    def routes(self, detectors: Iterable[Detector], event: Event) -> dict[str, int]:
        """`Engine.routes` of `event` over `detectors` (its candidates), each key's detectors
        as their code, built digit by digit by the same walk: no list per key, and no tuple
        of detectors to look up per route."""
        place, base = self._place, self._base
        out: dict[str, int] = {}
        for detector in detectors:
            digit = place[detector]
            for key in detector.subject_keys(event):
                out[key] = out.get(key, 0) * base + digit
        return out

    def detectors(self, code: int) -> tuple[Detector, ...]:
        found = self._sequences.get(code)
        if found is None:
            places: list[int] = []
            rest = code
            while rest:
                rest, place = divmod(rest, self._base)
                places.append(place)
            found = self._sequences[code] = tuple(self._detectors[p - 1] for p in reversed(places))
        return found


class DetectorFailed(Exception):
    """A detector raised on an event: the subject must be rebuilt from its whole history, which
    only the in-memory backtest keeps (`backtest_file` falls back to it)."""


class Shard:
    """An engine applying items in order, with the detect stage's periodic expiry."""

    def __init__(
        self,
        config: GuardlineConfig,
        *,
        clock_ms: Callable[[], int],
        expire_every_ms: int = EXPIRE_EVERY_MS,
    ) -> None:
        self.engine = config.new_engine(clock_ms=clock_ms)
        self._codes = DetectorCode(self.engine.detectors)
        self._expire_every_ms = expire_every_ms
        self._expired_at = -1 << 62
        self._last_ts = -1

    def apply_all(self, items: list[Item]) -> list[Alert]:
        """Every route of every item's event (one job: `Engine.process_all`, the fast path)."""
        alerts: list[Alert] = []
        for segment in self._segments(items):
            alerts += self.engine.process_all([item[3] for item in segment])
            if self.engine.failures:
                raise DetectorFailed
        return alerts

    def apply_routes(self, items: list[Item], emit: Callable[[Tag, Alert], None]) -> None:
        """The routes each item carries (one job of several), each alert with its `Tag`."""
        engine = self.engine
        detectors = self._codes.detectors
        apply = engine.apply
        for segment in self._segments(items):
            for ts, event_id, seq, event, routes in segment:
                for place, key, code in routes:
                    alerts = apply(key, detectors(code), event)
                    if alerts:
                        for k, alert in enumerate(alerts):
                            emit((ts, event_id, seq, place, k), alert)
                    if engine.failures:
                        raise DetectorFailed

    def _segments(self, items: list[Item]) -> Iterator[list[Item]]:
        """The items (in order) in runs, with `Engine.expire` between two runs where the detect
        stage would call it: at the last event time applied, once every event at it is applied
        (the next one is later), when that time is `expire_every_ms` past the last expiry. A
        run is yielded before the expiry that follows it, so an expiry never gets ahead of an
        event still to apply; it is applied before the next is read.

        The items are sorted by time, so where the next expiry falls is found by bisection,
        not by looking at every item: the first item later than the first time that is due."""
        start, after, end = 0, 0, len(items)
        while expiry := self._next_expiry(items, after):
            at, cut = expiry
            yield from _runs(items, start, cut)
            self.engine.expire(at)
            self.engine.dirty.clear()  # what a state store would save: none here
            self._expired_at = at
            start, after, self._last_ts = cut, cut + 1, items[cut][0]
        yield from _runs(items, start, end)
        if end:
            self._last_ts = max(self._last_ts, items[-1][0])

    def _next_expiry(self, items: list[Item], after: int) -> tuple[int, int] | None:
        """(the time to expire at, the first item after it) for the next expiry among
        `items[after:]`, the item before `after` (or before the batch) being at `_last_ts`;
        None if no item there makes one due."""
        last, end = self._last_ts, len(items)
        due = self._expired_at + self._expire_every_ms
        if last >= due:
            at = last
        else:
            first_due = bisect.bisect_left(items, due, after, end, key=_TS)
            if first_due == end:
                return None
            at = items[first_due][0]
        cut = bisect.bisect_right(items, at, after, end, key=_TS)
        return None if cut == end else (at, cut)


def _runs(items: list[Item], start: int, end: int) -> Iterator[list[Item]]:
    """`items[start:end]` in runs of at most `_SEGMENT_ITEMS`: memory stays a run."""
    for cut in range(start, end, _SEGMENT_ITEMS):
        yield items[cut : min(cut + _SEGMENT_ITEMS, end)]
