"""Opt-in memory diagnostics for a worker: what grows, sampled every few minutes into a file.

Why: RSS can grow while the state the detectors hold stays flat (issue 18's soak); RSS alone
cannot say whether Python objects, the C allocator, RocksDB or a Kafka client buffer grows.
Set `GUARDLINE_MEMORY_PROBE=FILE` (and optionally `GUARDLINE_MEMORY_PROBE_EVERY_S`, default 60)
and the worker appends one JSON line per sample to FILE: RSS, the C allocator's view
(`mallinfo2`: bytes in use vs held free), what Python allocated (`tracemalloc`, one frame per
site) and the sites whose size grew most since the previous sample, gc-tracked objects by type
with their change, and the sizes the adapter reports for its buffers and stores. Only sizes,
counts, source lines and type names: never ids or content. Off by default: tracemalloc costs
CPU on every allocation and memory per live block (its own overhead is in each sample);
`GUARDLINE_MEMORY_PROBE_TRACEMALLOC=0` leaves it off (everything else is cheap).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import json
import os
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

PROBE_ENV = "GUARDLINE_MEMORY_PROBE"
EVERY_ENV = "GUARDLINE_MEMORY_PROBE_EVERY_S"
TRACE_ENV = "GUARDLINE_MEMORY_PROBE_TRACEMALLOC"  # "0": no allocation sites (cheap)
TOP = 15  # allocation sites and object types per sample
MIB = 1024 * 1024


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            *("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks"),
            *("fsmblks", "uordblks", "fordblks", "keepcost"),
        )
    ]


def _libc() -> Any:
    name = ctypes.util.find_library("c")
    return ctypes.CDLL(name) if name else None


def malloc_view() -> dict[str, float]:
    """glibc's allocator, MiB: heap held from the OS (`arena` + mmapped), in use, held free.

    Free-but-held bytes growing while in-use bytes stay flat is fragmentation, not a leak.
    Empty where glibc has no `mallinfo2`.
    """
    libc = _libc()
    fn = getattr(libc, "mallinfo2", None) if libc is not None else None
    if fn is None:
        return {}
    fn.restype = _MallInfo2
    info = fn()
    return {
        "heap_mib": info.arena / MIB,
        "mmapped_mib": info.hblkhd / MIB,
        "in_use_mib": (info.uordblks + info.hblkhd) / MIB,
        "free_held_mib": info.fordblks / MIB,
    }


def process_view() -> dict[str, float]:
    """This process's resident memory, MiB, split into anonymous and file-backed pages."""
    out: dict[str, float] = {}
    wanted = {"VmRSS:": "rss_mib", "RssAnon:": "rss_anon_mib", "RssFile:": "rss_file_mib"}
    for line in Path("/proc/self/status").read_text().splitlines():
        fields = line.split()
        if fields and fields[0] in wanted:
            out[wanted[fields[0]]] = int(fields[1]) / 1024
    return out


def _site(stat: tracemalloc.Statistic) -> str:
    frame = stat.traceback[0]
    name = frame.filename
    for marker in ("site-packages/", "/streams/", "/lib/python"):
        if marker in name:
            name = name.split(marker, 1)[1]
            break
    return f"{name}:{frame.lineno}"


def _type_name(obj: object) -> str:
    kind = type(obj)
    return f"{kind.__module__}.{kind.__qualname__}"


class MemoryProbe:
    """Samples on demand (the worker's timer calls `sample`); each sample one JSON line."""

    def __init__(self, path: Path, every_s: float, *, trace: bool = True) -> None:
        self.path = path
        self.every_s = every_s
        self.trace = trace
        self._started = time.monotonic()
        self._sites: dict[str, tuple[int, int]] = {}  # site -> (bytes, blocks), last sample
        self._types: Counter[str] = Counter()
        if trace and not tracemalloc.is_tracing():
            tracemalloc.start(1)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> MemoryProbe | None:
        path = environ.get(PROBE_ENV, "").strip()
        if not path:
            return None
        trace = environ.get(TRACE_ENV, "1").strip() != "0"
        return cls(Path(path), float(environ.get(EVERY_ENV, "60")), trace=trace)

    @staticmethod
    def _site_sizes() -> dict[str, tuple[int, int]]:
        """Bytes and blocks per allocation site; the snapshot (a tuple per live block, as big
        as a good part of the heap) is dropped at once, only the per-site sums are kept."""
        snapshot = tracemalloc.take_snapshot()
        try:
            return {_site(s): (s.size, s.count) for s in snapshot.statistics("lineno")}
        finally:
            del snapshot

    def sample(self, sizes: Callable[[], Mapping[str, float]]) -> dict[str, Any]:
        """Take one sample (`sizes`: the adapter's buffers and stores), append it, return it."""
        memory = process_view()  # before the sample's own allocations
        gc.collect()
        sites = self._site_sizes() if self.trace else {}
        before, self._sites = self._sites, sites
        grown = sorted(sites, key=lambda k: sites[k][0] - before.get(k, (0, 0))[0], reverse=True)
        types = Counter(_type_name(o) for o in gc.get_objects())
        changed = {name: types[name] - self._types.get(name, 0) for name in types}
        self._types = types
        traced, peak = tracemalloc.get_traced_memory()
        record: dict[str, Any] = {
            "at_s": round(time.monotonic() - self._started, 1),
            **memory,
            "malloc": malloc_view(),
            "python_blocks": sys.getallocatedblocks(),
            "traced_mib": traced / MIB,
            "traced_peak_mib": peak / MIB,
            "tracemalloc_overhead_mib": tracemalloc.get_tracemalloc_memory() / MIB,
            "top_sites": [
                {
                    "site": site,
                    "kib": round(sites[site][0] / 1024, 1),
                    "delta_kib": round((sites[site][0] - before.get(site, (0, 0))[0]) / 1024, 1),
                    "blocks": sites[site][1],
                }
                for site in grown[:TOP]
            ],
            "gc_objects": sum(types.values()),
            "top_types": [
                {"type": name, "count": types[name], "delta": changed[name]}
                for name in sorted(types, key=lambda n: abs(changed[n]), reverse=True)[:TOP]
            ],
            "sizes": dict(sizes()),
        }
        tracemalloc.reset_peak()
        memory_after = process_view()
        record["probe_cost_rss_mib"] = memory_after["rss_mib"] - memory["rss_mib"]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as out:
            out.write(json.dumps(record, sort_keys=True) + "\n")
        return record
