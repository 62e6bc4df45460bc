"""streams.randbench.adaptive and probing: each adaptive attacker stays just under its detector's
thresholds, read from the config (hand-written strategies) or probed (any other detector)."""

from __future__ import annotations

from typing import Any

import pytest

from streams.config import load_config
from streams.detectors.new_contact_burst import NewContactBurstConfig, NewContactBurstDetector
from streams.engine.core import Engine
from streams.model import EventType, Severity
from streams.randbench.adaptive import STRATEGIES, adaptive_patterns
from streams.randbench.instance import Instance
from streams.randbench.social import build_background
from streams.randbench.world import World
from tests.randbench.helpers import (
    HOUR,
    by_pattern,
    distinct_in_window,
    reaches,
    small,
)


def detector_config(name: str) -> Any:
    return next(s.detector.config for s in load_config().detectors if s.detector.name == name)


def test_adaptive_contact_burst_stays_under_both_windows() -> None:
    config = load_config()
    burst = next(
        s.detector.config for s in config.detectors if s.detector.name == "new_contact_burst"
    )
    for _, contacts in by_pattern(small(), "adaptive_new_contact_burst"):
        firsts = [e for e in contacts if e.type is not EventType.GROUP_MEMBER_ADDED]
        assert firsts
        assert distinct_in_window(firsts, burst.fast_window_ms) < burst.fast_high
        assert distinct_in_window(firsts, burst.slow_window_ms) < burst.slow_high


def test_adaptive_mass_adder_keeps_each_window_under_high() -> None:
    cfg = detector_config("minor_mass_add")
    for _, contacts in by_pattern(small(), "adaptive_minor_mass_add"):
        adds = [e for e in contacts if e.type is EventType.GROUP_MEMBER_ADDED]
        assert len(adds) >= 2 * (cfg.high - 1)  # two rounds at least
        assert distinct_in_window(adds, cfg.window_ms) < cfg.high


def test_adaptive_blocked_account_keeps_each_window_under_high() -> None:
    cfg = detector_config("minor_blocks_reports")
    gen = small()
    for t in gen.truth:
        if t.pattern != "adaptive_minor_blocks_reports":
            continue
        flags = [
            (e.ts_ms, cfg.report_weight if e.type is EventType.REPORTED else cfg.block_weight)
            for e in gen.events
            if e.type in (EventType.BLOCKED, EventType.REPORTED)
            and e.target is not None
            and e.target.id in t.accounts
        ]
        assert flags
        for ts, _ in flags:
            inside = sum(w for x, w in flags if ts - cfg.window_ms < x <= ts)
            assert inside < cfg.high


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_hand_written_adaptive_attacker_is_never_high_on_its_own_detector(name: str) -> None:
    """If this fails after a detector changed its logic, its strategy in `adaptive.STRATEGIES`
    is out of date: update it, or drop it to let the probing attacker take over."""
    config = load_config()
    detector = next(s.detector for s in config.detectors if s.detector.name == name)
    gen = small()
    alerts = Engine([detector], config.engine).process_all(gen.events)
    flagged = {a.subject.id for a in alerts if a.severity.rank >= Severity.HIGH.rank}
    for t in gen.truth:
        if t.pattern == f"adaptive_{name}":
            assert not flagged & {*t.accounts, *t.devices, *t.ips}, t.instance_id


def renamed(name: str, **config: int) -> Any:
    """new_contact_burst's code under another name: a detector the generator has never seen."""
    cls = type(f"Renamed_{name}", (NewContactBurstDetector,), {"name": name})
    return cls(NewContactBurstConfig(**config))


@pytest.mark.parametrize(
    ("name", "label"),
    [("exposure_like", "probing"), ("ban_evasion", "probing (config lacks its fields)")],
)
def test_unknown_detector_gets_the_probing_attacker_which_it_never_flags(
    name: str, label: str
) -> None:
    detector = renamed(name, fast_high=5, slow_high=9)
    world = World(3)
    build_background(world, 300)
    inst = Instance(world, f"adaptive_{name}", "attack", 0)
    adaptive_patterns([detector])[f"adaptive_{name}"](inst)
    events = world.finish()
    mine = {p.id for p in inst.people} | set(inst.devices) | set(inst.ips)
    alerts = Engine([renamed(name, fast_high=5, slow_high=9)]).process_all(events)
    assert not [a for a in alerts if a.severity.rank >= 2 and a.subject.id in mine]
    contacts = reaches(events, {p.id for p in inst.people})
    assert len({e.target.id for e in contacts if e.target is not None}) >= 15
    firsts = [e for e in contacts if e.type is not EventType.GROUP_MEMBER_ADDED]
    assert distinct_in_window(firsts, HOUR) == 4  # just under fast_high = 5: it probed up to it
    assert inst.params["strategy"] == label
