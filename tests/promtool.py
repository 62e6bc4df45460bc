"""Prometheus helpers for tests: Debian's `promtool` (missing = failure, never a skip), and
the series names a worker exports."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from streams.ops.metrics import WorkerMetrics

SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def promtool(*args: str | Path, cwd: Path | None = None) -> str:
    binary = shutil.which("promtool")
    if binary is None:
        pytest.fail("promtool is not installed: run ./dev test (it installs Debian's prometheus)")
    cmd = [binary, *map(str, args)]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=120)
    out = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(cmd)}:\n{out}"
    return out


def exported_series() -> set[str]:
    """Every guardline_* series name a worker can expose (labelled or not yet observed)."""
    registry = WorkerMetrics(["new_contact_burst"], process=False).registry
    return {
        family.name + suffix for family in registry.collect() for suffix in SUFFIXES[family.type]
    }
