"""How much CPU each process of a bench phase used: the numbers behind every rate.

On 2 shared cores a rate alone cannot say whether a consumer was slow or starved. Per-process
CPU seconds (Linux /proc: user + system time of every thread) over the timed window say how
many cores the workers, the broker and the bench's own producer used, and how busy the whole
machine was (other sessions included). A background thread samples every `every_s`; a window
is read between the last sample before its start and the first one after its end.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

_PROC = Path("/proc")
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

Roles = dict[str, list[int]]  # role ("worker 1", "broker", "bench") -> its process ids


def process_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of `pid` (all its threads) so far; None when unreadable."""
    try:
        raw = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # After "pid (comm)": field 3 is the state; utime and stime are fields 14 and 15.
    fields = raw.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def machine_busy_s() -> float | None:
    """CPU seconds every core of the machine has spent not idle since boot (all processes)."""
    try:
        first = (_PROC / "stat").read_text().splitlines()[0]
    except OSError:
        return None
    ticks = [int(v) for v in first.split()[1:]]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
    return (sum(ticks[:8]) - idle) / _TICKS  # guest time is already in user


def machine_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def descendants(root: int, *, named: str) -> list[int]:
    """Processes under `root` (children, grandchildren...) with `named` in their command line:
    how the bench finds the embedded broker it started (its wrapper and the native process)."""
    parents: dict[int, int] = {}
    for entry in _PROC.iterdir() if _PROC.is_dir() else ():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parents[int(entry.name)] = int(stat.rpartition(")")[2].split()[1])
    found: list[int] = []
    for pid in parents:
        ancestor = parents.get(pid)
        while ancestor is not None and ancestor != root and ancestor > 1:
            ancestor = parents.get(ancestor)
        if ancestor != root:
            continue
        try:
            cmdline = (_PROC / str(pid) / "cmdline").read_bytes()
        except OSError:
            continue
        if named.encode() in cmdline:
            found.append(pid)
    return sorted(found)


@dataclass(frozen=True, slots=True)
class Sample:
    at_s: float  # wall clock (time.time(), as the consumers' stats files)
    cpu_s: dict[int, float]  # pid -> CPU seconds so far
    machine_busy_s: float | None


@dataclass(slots=True)
class CpuUse:
    """Cores used on average over a window: CPU seconds / wall seconds, per role."""

    seconds: float
    cores: dict[str, float] = field(default_factory=dict)
    machine_busy: float | None = None  # every process on the machine, in cores
    machine_cores: int = 0

    def total(self, prefix: str) -> float:
        """Cores of every role whose name starts with `prefix` ("worker" for all workers)."""
        return sum(v for k, v in self.cores.items() if k.startswith(prefix))

    def describe(self) -> str:
        parts = [f"{role} {cores:.2f}" for role, cores in self.cores.items()]
        text = "cores: " + ", ".join(parts)
        if self.machine_busy is not None:
            others = max(self.machine_busy - sum(self.cores.values()), 0.0)
            text += (
                f", other processes {others:.2f}; machine {self.machine_busy:.2f} of "
                f"{self.machine_cores} busy"
            )
        return text


def window_use(samples: list[Sample], roles: Roles, start_s: float, end_s: float) -> CpuUse:
    """CPU per role between the samples that bracket [start_s, end_s] (pure: unit-tested).

    A process missing from the first sample (started later) counts from zero; one missing from
    the last (exited) is read at its last sample inside the window.
    """
    before = [s for s in samples if s.at_s <= start_s]
    after = [s for s in samples if s.at_s >= end_s]
    first = before[-1] if before else samples[0]
    last = after[0] if after else samples[-1]
    inside = [s for s in samples if first.at_s <= s.at_s <= last.at_s]
    wall = last.at_s - first.at_s
    use = CpuUse(seconds=wall, machine_cores=machine_cores())
    if wall <= 0:
        return use
    for role, pids in roles.items():
        spent = 0.0
        for pid in pids:
            seen = [s.cpu_s[pid] for s in inside if pid in s.cpu_s]
            if seen:
                spent += seen[-1] - first.cpu_s.get(pid, 0.0)
        use.cores[role] = spent / wall
    if first.machine_busy_s is not None and last.machine_busy_s is not None:
        use.machine_busy = (last.machine_busy_s - first.machine_busy_s) / wall
    return use


class CpuMeter:
    """Samples the CPU of the processes `roles()` names until stopped; `use` reads a window.

    `roles` is asked again every second, so processes started after the meter are seen too.
    """

    def __init__(self, roles: Callable[[], Roles], every_s: float = 0.1) -> None:
        self._roles_of = roles
        self.roles: Roles = {}
        self.samples: list[Sample] = []
        self._every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cpu-meter", daemon=True)

    def __enter__(self) -> CpuMeter:
        self._refresh()
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sample()

    def _refresh(self) -> None:
        for role, pids in self._roles_of().items():
            known = self.roles.setdefault(role, [])
            known.extend(p for p in pids if p not in known)

    def _pids(self) -> Iterator[int]:
        for pids in list(self.roles.values()):
            yield from pids

    def sample(self) -> None:
        cpu = {pid: s for pid in self._pids() if (s := process_cpu_s(pid)) is not None}
        self.samples.append(Sample(time.time(), cpu, machine_busy_s()))

    def _run(self) -> None:
        refreshed = time.monotonic()
        while not self._stop.wait(self._every_s):
            if time.monotonic() - refreshed >= 1.0:
                self._refresh()
                refreshed = time.monotonic()
            self.sample()

    def use(self, start_s: float, end_s: float) -> CpuUse:
        return window_use(list(self.samples), self.roles, start_s, end_s)
