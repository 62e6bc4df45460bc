"""A worker's running totals as a small JSON file (`guardline worker --stats-file`).

The bench and the resilience tests poll it (how many events a worker has read, routed and
applied, and when); the worker rewrites it atomically, so a reader never sees half a file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write_stats(path: Path, stats: dict[str, Any]) -> None:
    """Atomically (write + rename), so a reader never sees half a file."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(stats))
    tmp.replace(path)


def read_stats(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}
