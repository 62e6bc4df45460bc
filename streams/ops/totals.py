"""Small files a worker writes for whoever started it: its ready file and its running totals.

The ready file (`guardline worker --ready-file`) lists the input partitions assigned; the demo,
tests and bench wait on it (`launcher.wait_ready`). The totals (`--stats-file`: how many events
a worker has read, routed and applied, and when) are polled by the bench and the resilience
tests. Both are rewritten atomically, so a reader never sees half a file.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def write_stats(path: Path, stats: dict[str, Any]) -> None:
    """Atomically (write + rename), so a reader never sees half a file."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(stats))
    tmp.replace(path)


def write_ready(path: Path, partitions: Iterable[int]) -> None:
    """Whole or not at all: a reader polling for the file must never see it empty."""
    part = path.with_name(path.name + ".part")
    part.write_text(",".join(map(str, partitions)) + "\n")
    part.replace(path)


def read_stats(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}
