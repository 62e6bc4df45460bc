"""Figure 5: how much state Guardline keeps per active account, and whether it stays flat.

Measured on the pure engine (the same state the worker keeps in memory and in its table):
after every tenth of the run, the in-memory size of all subject state (a deep `sys.getsizeof`
walk) and its serialised size (what the changelog holds), divided by the accounts that have
state. An active account is one that acted in the last 24 h of event time: its state, and that
of the devices, IPs and cases it touches, is what a platform of that many daily users costs.
Flat means the second half of the run adds no bytes per active account.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from streams.config import GuardlineConfig
from streams.engine.core import Engine
from streams.model import Event

ACTIVE_MS = 24 * 3_600_000


@dataclass(frozen=True, slots=True)
class StateSample:
    events: int
    active_accounts: int
    subjects: int
    memory_bytes: int
    stored_bytes: int

    @property
    def memory_per_account(self) -> float:
        return self.memory_bytes / max(self.active_accounts, 1)

    @property
    def stored_per_account(self) -> float:
        return self.stored_bytes / max(self.active_accounts, 1)


@dataclass(slots=True)
class StateReport:
    samples: list[StateSample] = field(default_factory=list)

    @property
    def last(self) -> StateSample:
        return self.samples[-1]

    def slope_per_million(self) -> float:
        """Change of in-memory bytes per account per 1M events, over the second half."""
        half = [s for s in self.samples if s.events >= self.last.events / 2]
        if len(half) < 2 or half[-1].events == half[0].events:
            return 0.0
        rise = half[-1].memory_per_account - half[0].memory_per_account
        return rise / (half[-1].events - half[0].events) * 1_000_000


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


def measure_state(
    events: Iterable[Event],
    total: int,
    config: GuardlineConfig,
    *,
    samples: int = 10,
    on_progress: Callable[[int], None] = lambda n: None,
) -> StateReport:
    """Run the engine over `events` (in order) and sample its state `samples` times."""
    engine = Engine(config.active(), config.engine)
    report = StateReport()
    every = max(total // samples, 1)
    expire_every_ms = 600_000  # as the worker does
    last_expire: int | None = None
    n = 0
    last_seen: dict[str, int] = {}
    for event in events:
        engine.process(event)
        last_seen[event.actor.id] = event.ts_ms
        n += 1
        if last_expire is None or event.ts_ms - last_expire >= expire_every_ms:
            engine.expire(event.ts_ms)
            last_expire = event.ts_ms
        if n % every == 0:
            engine.take_dirty()  # the worker writes and forgets its dirty set every batch
            report.samples.append(_sample(engine, n, _active(last_seen)))
            on_progress(every)
    if not report.samples or report.last.events != n:
        report.samples.append(_sample(engine, n, _active(last_seen)))
    return report


def _active(last_seen: dict[str, int]) -> int:
    newest = max(last_seen.values(), default=0)
    return sum(1 for ts in last_seen.values() if ts > newest - ACTIVE_MS)


def _sample(engine: Engine, events: int, accounts: int) -> StateSample:
    subjects = engine.subjects
    stored = sum(len(engine.dump(key) or b"") for key in subjects)
    return StateSample(events, accounts, len(subjects), deep_size(subjects), stored)
