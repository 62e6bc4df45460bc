"""Paced sending (`guardline demo`, the broker tests): a steady stream, not bursts."""

from __future__ import annotations

from typing import Any

import pytest

from streams import produce
from tests.factories import adult, message, minor


class _Clock:
    """Wall time that moves only when the sender sleeps (or sends: 0.1 ms per event)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class _Producer:
    def __init__(self, clock: _Clock) -> None:
        self.clock = clock
        self.sent_at: list[float] = []

    def send(self, topic: str, **_: Any) -> None:
        self.sent_at.append(self.clock.now)
        self.clock.now += 0.0001

    def flush(self) -> None:
        return None


@pytest.mark.parametrize("rate", [50.0, 250.0, 2000.0])
def test_paced_sends_never_run_more_than_10_ms_ahead(
    rate: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = _Clock()
    monkeypatch.setattr(produce.time, "monotonic", clock.monotonic)
    monkeypatch.setattr(produce.time, "sleep", clock.sleep)
    producer = _Producer(clock)
    events = [message(adult(), minor(f"u-{i}"), i) for i in range(600)]
    assert produce.send_events(producer, events, rate_per_s=rate) == 600  # type: ignore[arg-type]
    for i, at in enumerate(producer.sent_at):
        assert at >= i / rate - 0.010 - 1e-9, f"event {i} sent {i / rate - at:.3f} s early"
    assert clock.now == pytest.approx(600 / rate, rel=0.01)
