"""Memory per active account over a long run: bounded, and flat once the horizon is reached.

Pure engine with the default config and all six detectors, fed a 24-day simulation (longer than
the longest state horizon, 14 days, so eviction is exercised for 10 days). State is measured as
the bytes the worker would write to its changelog (`Engine.dump` of every live subject), so the
numbers are deterministic, unlike RSS. "Active" = accounts seen as actor or target in the
trailing 24 h of event time.

Three checks:
- bounded: at every sample, state bytes per active account stay within the issue-6 target
  (1 KiB);
- forgets: after 24 days, the state is no bigger than that of an engine that only saw the last
  14 days (+5%): nothing older than the horizon survives in it;
- flat: after the warm-up, later samples per active account stay within 25% of the first one.
  The simulator's social graph keeps growing (friend lists only grow), so its own working set
  per active account (distinct account-minor contacts in 14 days) rises ~20% over the same
  span: the tolerance covers that, a leak (e.g. minors never expiring on a device) does not.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from streams.config import load_config
from streams.engine.core import Engine
from streams.simulate import DAY_MS, HOUR_MS, SimulationConfig, iter_events

KIB = 1024
HORIZON_MS = 14 * DAY_MS  # the longest detector horizon in the defaults (pair / device memory)
SIM = SimulationConfig(seed=7, duration_ms=24 * DAY_MS, normal_users=300)
SAMPLE_EVERY_MS = 12 * HOUR_MS
EXPIRE_EVERY_MS = 600_000  # as the worker does (PartitionRuntime.expire_every_ms)


@dataclass(frozen=True, slots=True)
class Sample:
    day: float
    state_bytes: int
    active_accounts: int

    @property
    def per_account(self) -> float:
        return self.state_bytes / self.active_accounts


def state_bytes(engine: Engine) -> int:
    return sum(len(engine.dump(key) or b"") for key in engine.subjects)


def run(start_ms: int, end_ms: int) -> tuple[Engine, list[Sample]]:
    """Feed the simulation's events in [start_ms, end_ms) to a fresh engine, sampling state."""
    cfg = load_config()
    engine = Engine(cfg.active(), cfg.engine)
    last_seen: dict[str, int] = {}
    samples: list[Sample] = []
    next_sample = start_ms + SAMPLE_EVERY_MS
    last_expire = start_ms
    for event in iter_events(SIM):
        now = event.ts_ms
        if now < start_ms:
            continue
        if now >= end_ms:
            break
        if now >= next_sample:
            engine.expire(now)
            active = sum(1 for t in last_seen.values() if t > now - DAY_MS)
            day = (now - SIM.start_ms) / DAY_MS
            samples.append(Sample(day, state_bytes(engine), active))
            next_sample += SAMPLE_EVERY_MS
        if now - last_expire >= EXPIRE_EVERY_MS:
            engine.expire(now)
            last_expire = now
        last_seen[event.actor.id] = now
        if event.target is not None:
            last_seen[event.target.id] = now
        engine.process(event)
    engine.expire(end_ms)
    return engine, samples


@pytest.mark.slow
def test_state_per_active_account_is_bounded_and_flat_over_a_long_run() -> None:
    long_engine, samples = run(SIM.start_ms, SIM.end_ms)
    assert len(samples) >= 40
    worst = max(samples, key=lambda s: s.per_account)
    assert worst.per_account <= KIB, f"{worst.per_account:.0f} B per active account at {worst}"

    warm = [s for s in samples if s.day >= HORIZON_MS / DAY_MS]
    assert len(warm) >= 15
    first = warm[0].per_account
    growth = max(s.per_account for s in warm) / first
    assert growth <= 1.25, f"state per active account grew {growth:.2f}x after the warm-up"

    recent_engine, _ = run(SIM.end_ms - HORIZON_MS, SIM.end_ms)
    long_bytes, recent_bytes = state_bytes(long_engine), state_bytes(recent_engine)
    assert recent_bytes > 100 * KIB  # the comparison means something
    assert long_bytes <= 1.05 * recent_bytes, (
        f"after {SIM.duration_ms // DAY_MS} days the state is {long_bytes} B, but only "
        f"{recent_bytes} B come from the last {HORIZON_MS // DAY_MS} days"
    )
