"""The opt-in memory probe (`streams/ops/memory_probe.py`): off unless asked, and what grows
between two samples shows up by allocation site and by type."""

from __future__ import annotations

import inspect
import json
import tracemalloc
from pathlib import Path

from streams.ops.memory_probe import EVERY_ENV, PROBE_ENV, TRACE_ENV, MemoryProbe


class Grown:
    """A type only this test makes, so its count is known exactly."""

    def __init__(self, i: int) -> None:
        self.payload = [i] * 50


def test_the_probe_is_off_unless_a_file_is_named() -> None:
    assert MemoryProbe.from_env({}) is None
    assert MemoryProbe.from_env({PROBE_ENV: "  "}) is None


def test_what_grows_between_samples_is_named_by_site_and_type(tmp_path: Path) -> None:
    was_tracing = tracemalloc.is_tracing()
    path = tmp_path / "memory.jsonl"
    probe = MemoryProbe.from_env({PROBE_ENV: str(path), EVERY_ENV: "5"})
    assert probe is not None and probe.every_s == 5.0
    try:
        probe.sample(lambda: {"buffer.size": 1.0})
        kept = [Grown(i) for i in range(20_000)]  # ~20k objects, ~10 MB, all from one line
        probe.sample(lambda: {"buffer.size": 2.0})
    finally:
        if not was_tracing:
            tracemalloc.stop()
    _, second = (json.loads(line) for line in path.read_text().splitlines())
    assert second["sizes"] == {"buffer.size": 2.0}
    assert second["rss_mib"] > 0 and second["traced_mib"] > 0
    types = {t["type"]: t for t in second["top_types"]}
    grown = types[f"{__name__}.Grown"]
    assert grown["delta"] == 20_000
    top = second["top_sites"][0]
    payload_line = inspect.getsourcelines(Grown.__init__)[1] + 1  # the list each Grown builds
    assert top["site"].endswith(f"test_memory_probe.py:{payload_line}")
    assert top["delta_kib"] > 20_000 * 50 * 8 / 1024 * 0.9
    assert len(kept) == 20_000


def test_the_cheap_probe_does_not_trace_allocations(tmp_path: Path) -> None:
    if tracemalloc.is_tracing():
        return  # another test's tracing: nothing to check here
    probe = MemoryProbe.from_env({PROBE_ENV: str(tmp_path / "m.jsonl"), TRACE_ENV: "0"})
    assert probe is not None
    record = probe.sample(dict)
    assert not tracemalloc.is_tracing() and record["top_sites"] == []
    assert record["gc_objects"] > 0
