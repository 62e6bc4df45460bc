"""Seeded synthetic chat metadata: background traffic, attack scenarios, look-alikes, truth.

Why: detectors are tuned and backtested on traffic whose answer is known. Each pattern the
police described (adults posing as teens, bulk first contacts, bulk group adds, throwaway
accounts, fast escalation) runs next to the benign traffic that looks most like it (a teacher
adding a class, a popular teen, a school IP, a family tablet), so a detector that cannot tell
them apart shows up as a false positive in the backtest.

Pure: no Kafka, no wall clock, no global random. The same config gives the same events and
truth; every random choice comes from a `random.Random` seeded from `SimulationConfig.seed`.

Layout, each module importing only those before it: `config` (knobs, scenario names and
specs, constants), `truth` (ground-truth entries and files), `population` (accounts,
households, groups, record emitter), `background` (normal traffic), `scenarios` (attacks and
look-alikes), `run` (one run, streamed hour by hour).
"""

from __future__ import annotations

from streams.simulate.config import (
    ALL_SCENARIOS,
    ANONYMOUS_CHURN,
    ATTACKS,
    BAN_EVASION,
    DAY_MS,
    DEFAULT_START_MS,
    HOUR_MS,
    LOOKALIKES,
    MINOR_BLOCKS_REPORTS,
    MINOR_MASS_ADD,
    MINUTE_MS,
    NEW_CONTACT_BURST,
    SEXTORTION_VELOCITY,
    Kind,
    SimulationConfig,
)
from streams.simulate.run import Simulation, iter_events, simulate, simulate_truth
from streams.simulate.truth import TruthEntry, read_truth, write_truth

__all__ = [
    "ALL_SCENARIOS",
    "ANONYMOUS_CHURN",
    "ATTACKS",
    "BAN_EVASION",
    "DAY_MS",
    "DEFAULT_START_MS",
    "HOUR_MS",
    "LOOKALIKES",
    "MINOR_BLOCKS_REPORTS",
    "MINOR_MASS_ADD",
    "MINUTE_MS",
    "NEW_CONTACT_BURST",
    "SEXTORTION_VELOCITY",
    "Kind",
    "Simulation",
    "SimulationConfig",
    "TruthEntry",
    "iter_events",
    "read_truth",
    "simulate",
    "simulate_truth",
    "write_truth",
]
