"""Figure 5: how much state Guardline keeps per active account, and whether it stays flat.

Measured on the pure engine with every configured detector, over a run longer in event time
than the longest detector memory (14 days in the defaults), so eviction is exercised and the
second half shows the steady state, not the warm-up. The figure is what the worker writes:
every live subject's key and serialised state (`Engine.dump`), i.e. one changelog record and
one RocksDB row each; deterministic, unlike RSS. The in-memory size (a deep `sys.getsizeof`
walk) is taken once, at the end, as a secondary figure: it costs seconds per walk.

An active account is one seen as actor or target in the trailing 24 h of event time: its state,
and that of the devices, IPs, groups and cases it touches, is what a platform of that many
daily users costs. `tests/test_memory.py` asserts the bounds on the same measurement.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from streams.config import GuardlineConfig
from streams.engine.core import Engine
from streams.model import Event
from streams.simulate import DAY_MS, HOUR_MS

ACTIVE_MS = DAY_MS
SAMPLE_EVERY_MS = 12 * HOUR_MS
EXPIRE_EVERY_MS = 600_000  # as the worker does (PartitionRuntime.expire_every_ms)
PROGRESS_EVERY = 10_000  # events between on_progress calls


@dataclass(frozen=True, slots=True)
class StateSample:
    day: float  # event time since the run's start, in days
    events: int  # events processed so far
    active_accounts: int
    subjects: int
    stored_bytes: int  # keys + serialised values of every live subject
    memory_bytes: int | None = None  # deep in-memory size, when it was measured

    @property
    def stored_per_account(self) -> float:
        return self.stored_bytes / max(self.active_accounts, 1)

    @property
    def memory_per_account(self) -> float | None:
        if self.memory_bytes is None:
            return None
        return self.memory_bytes / max(self.active_accounts, 1)


@dataclass(slots=True)
class StateReport:
    horizon_ms: int  # the longest detector memory: state older than this must be gone
    samples: list[StateSample] = field(default_factory=list)
    end_ms: int = 0  # event time of the final sample (the engine expired up to it)

    @property
    def last(self) -> StateSample:
        return self.samples[-1]

    def steady(self) -> list[StateSample]:
        """The samples of the steady state: past the longest memory and in the run's second half.

        A run shorter than the horizon has no steady state; its second half is returned, so a
        slope is still reported (it then includes warm-up growth, as it should).
        """
        span = self.last.day
        start = max(self.horizon_ms / DAY_MS, span / 2)
        steady = [s for s in self.samples if s.day >= start]
        if len(steady) >= 2:
            return steady
        return [s for s in self.samples if s.day >= span / 2]

    def slope_per_day(self) -> float:
        """Least-squares slope of stored bytes per active account, per day, over `steady()`."""
        return _slope([(s.day, s.stored_per_account) for s in self.steady()])

    def slope_per_million(self) -> float:
        """The same slope per 1M events (the events of the steady window, not of the run)."""
        return _slope([(s.events / 1e6, s.stored_per_account) for s in self.steady()])


def state_bytes(engine: Engine) -> int:
    """Bytes the worker would write for this engine's state: every live key and its value."""
    return sum(len(key) + len(engine.dump(key) or b"") for key in engine.subjects)


def longest_memory_ms(engine: Engine) -> int:
    """How far back any detector's state can reach, and how long a case stays open."""
    horizons = [d.horizon_ms() for d in engine.detectors]
    return max([engine.config.cooldown_ms, *horizons])


def measure_state(
    events: Iterable[Event],
    config: GuardlineConfig,
    *,
    start_ms: int | None = None,
    end_ms: int | None = None,
    sample_every_ms: int = SAMPLE_EVERY_MS,
    deep: bool = False,
    on_progress: Callable[[int], None] = lambda n: None,
) -> tuple[StateReport, Engine]:
    """Feed the events in [start_ms, end_ms) (event-time order) to a fresh engine, sampling.

    Every `sample_every_ms` of event time, and once at the end, the engine expires what fell out
    of its windows (as the worker does every 10 min) and its state is measured. `deep` also
    measures the in-memory size at the end. `on_progress` counts events read, skipped or not.
    Returns the report and the final engine.

    Flat over time means the state after a long run is no bigger than that of an engine fed
    only its last `horizon_ms` (measure again with `start_ms=report.end_ms - horizon_ms`): a
    slope alone cannot tell a leak from traffic whose working set grows.
    """
    engine = Engine(config.active(), config.engine)
    report = StateReport(longest_memory_ms(engine))
    last_seen: dict[str, int] = {}
    first_ms = start_ms
    next_sample = last_expire = now = -1
    n = read = 0
    for event in events:
        read += 1
        if read % PROGRESS_EVERY == 0:
            on_progress(PROGRESS_EVERY)
        now = event.ts_ms
        if start_ms is not None and now < start_ms:
            continue
        if end_ms is not None and now >= end_ms:
            break
        if first_ms is None:
            first_ms = now
        if next_sample < 0:
            next_sample, last_expire = first_ms + sample_every_ms, first_ms
        if now >= next_sample:
            engine.expire(now)
            report.samples.append(_sample(engine, (now - first_ms) / DAY_MS, n, last_seen, now))
            next_sample += sample_every_ms * max(1, (now - next_sample) // sample_every_ms + 1)
        if now - last_expire >= EXPIRE_EVERY_MS:
            engine.expire(now)
            last_expire = now
        last_seen[event.actor.id] = now
        if event.target is not None:
            last_seen[event.target.id] = now
        engine.process(event)
        n += 1
    on_progress(read % PROGRESS_EVERY)
    end = now if end_ms is None else end_ms
    if first_ms is None or end < 0:
        raise ValueError("no events in the measured range")
    engine.expire(end)
    final = _sample(engine, (end - first_ms) / DAY_MS, n, last_seen, end)
    if deep:
        final = replace(final, memory_bytes=deep_size(engine.subjects))
    report.samples.append(final)
    report.end_ms = end
    return report, engine


def _sample(
    engine: Engine, day: float, events: int, last_seen: dict[str, int], now: int
) -> StateSample:
    active = sum(1 for ts in last_seen.values() if ts > now - ACTIVE_MS)
    return StateSample(day, events, active, len(engine.subjects), state_bytes(engine))


def _slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of y over x; 0 when x does not vary."""
    if len(points) < 2:
        return 0.0
    mx = sum(x for x, _ in points) / len(points)
    my = sum(y for _, y in points) / len(points)
    var = sum((x - mx) ** 2 for x, _ in points)
    if var == 0:
        return 0.0
    return sum((x - mx) * (y - my) for x, y in points) / var


def deep_size(root: Any) -> int:
    """Bytes of an object graph (dicts, lists, tuples, sets, slotted objects), each once."""
    seen: set[int] = set()
    stack = [root]
    total = 0
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        if isinstance(obj, dict):
            stack.extend(obj.keys())
            stack.extend(obj.values())
        elif isinstance(obj, list | tuple | set | frozenset):
            stack.extend(obj)
        elif hasattr(obj, "__slots__"):
            stack.extend(getattr(obj, s) for s in obj.__slots__ if hasattr(obj, s))
        elif hasattr(obj, "__dict__"):
            stack.append(vars(obj))
    return total
