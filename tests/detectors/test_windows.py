"""The time-ordered expiry helpers."""

from __future__ import annotations

from streams.detectors.windows import drop_before, drop_idle


def test_drop_before_and_drop_idle_pop_only_the_stale_front() -> None:
    entries = {"a": (10, "e-1"), "b": (20, "e-2"), "c": (30, "e-3")}
    drop_before(entries, 20)
    assert list(entries) == ["c"]

    class Seen:
        def __init__(self, last_ms: int) -> None:
            self.last_ms = last_ms

    idle = {"x": Seen(5), "y": Seen(50), "z": Seen(7)}  # z is stale but behind a live entry
    drop_idle(idle, 10)
    assert list(idle) == ["y", "z"]
