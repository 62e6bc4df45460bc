"""Adaptive attackers: for each enforced detector, one that stays just under its thresholds.

The thresholds are read from the detector configs at generation time, so they follow tuning.
A detector with a strategy in `STRATEGIES` gets that one, as long as its config still has the
fields the strategy reads; any other (a new detector) gets the probing attacker
(`probing.py`), which tries each contact on the detector itself first. To give a detector a
hand-written attacker: `STRATEGIES["name"] = (fn, ("field", ...))`, `fn(inst, config)`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from functools import partial
from typing import Any, Final

from streams.engine.core import EngineConfig
from streams.model import AgeBand, EventType
from streams.randbench.attacks import offender
from streams.randbench.instance import Instance
from streams.randbench.probing import probing
from streams.randbench.world import DAY_MS, HOUR_MS, MINUTE_MS, Person

Strategy = Callable[[Instance, Any], None]
# Never under-13s for the sextortion attacker (they weigh double); throwaways claim these.
_TEENS: Final = (AgeBand.AGE_13_15, AgeBand.AGE_16_17)
_RING: Final = (AgeBand.AGE_16_17, AgeBand.UNKNOWN, AgeBand.AGE_18_20)


def window_limits(config: Any) -> list[tuple[int, int]]:
    """(window_ms, most distinct minors allowed in it) for every window/high pair."""
    if not dataclasses.is_dataclass(config):
        return []
    values = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
    limits = []
    for name, window in values.items():
        if not name.endswith("window_ms") or not isinstance(window, int) or window <= 0:
            continue
        high = values.get(name[: -len("window_ms")] + "high")
        if isinstance(high, int | float) and not isinstance(high, bool) and high >= 2:
            limits.append((window, math.ceil(high) - 1))
    return limits


def schedule(
    start_ms: int, count: int, limits: list[tuple[int, int]], gap: Callable[[], int]
) -> list[int]:
    """`count` contact times from `start_ms`, `gap()` apart at least, never more than the
    allowed number inside any window (a window is (t - window_ms, t])."""
    times: list[int] = []
    t = start_ms
    for _ in range(count):
        t = t + gap() if times else t
        moved = True
        while moved:
            moved = False
            for window, allowed in limits:
                inside = [x for x in times if x > t - window]
                if len(inside) >= allowed:
                    t = inside[len(inside) - allowed] + window + MINUTE_MS
                    moved = True
        times.append(t)
    return times


def _reach(inst: Instance, o: Person, v: Person, ts: int, channel: str, group: str) -> None:
    if channel == "add":
        inst.emit(ts, EventType.CONTACT_ADDED, o, v)
    elif channel == "group":
        inst.emit(ts, EventType.GROUP_MEMBER_ADDED, o, v, group=group)
    else:
        inst.dm(ts, o, v, inst.rng.randint(1, 3))
    if inst.rng.random() < 0.3:
        inst.replies(ts + MINUTE_MS, v, o, inst.rng.randint(1, 2))


def under_windows(
    inst: Instance,
    config: Any,
    channels: tuple[str, ...],
    count: tuple[int, int] = (20, 45),
    groups: int = 1,
) -> None:
    """Distinct minors through `channels` (group adds spread over `groups` new groups), never
    more than `ceil(high) - 1` in any window of each `<prefix>window_ms` / `<prefix>high`
    pair of the config; `count` minors wanted, as many as fit before the span ends."""
    rng = inst.rng
    start = inst.start_window(0.5, 3)
    o = offender(inst, start)
    limits = window_limits(config)
    inst.draw("limits", ";".join(f"{w // MINUTE_MS}min<={n}" for w, n in limits))
    wanted = int(inst.draw("minors", rng.randint(*count)))
    end = inst.world.end_ms - HOUR_MS
    times = [
        t
        for t in schedule(start, wanted, limits, lambda: rng.randrange(MINUTE_MS, 4 * MINUTE_MS))
        if t < end
    ]
    rooms = [inst.world.new_id("g") for _ in range(groups)]
    for k, (t, v) in enumerate(zip(times, inst.minors(len(times), spread=True), strict=False)):
        _reach(inst, o, v, t, rng.choice(channels), rooms[k % groups])
    inst.draw("reached", len(times))


def under_contact_burst(inst: Instance, config: Any) -> None:
    under_windows(inst, config, channels=("dm", "add"))


def under_mass_add(inst: Instance, config: Any) -> None:
    """Group adds into 3 groups (a risk sign once), one under `high` in every window that has a
    high (the six-hour one, and any slower one)."""
    under_windows(inst, config, channels=("group",), count=(40, 80), groups=3)


def under_sextortion(inst: Instance, config: Any) -> None:
    """Either one message short of an escalation per minor, or one escalation short per window."""
    rng = inst.rng
    start = inst.start_window(0.5, 11)
    o = offender(inst, start)
    short_messages = bool(inst.draw("one_message_short", rng.random() < 0.5))
    per_window = max(1, math.ceil(config.high) - 1) if not short_messages else rng.randint(3, 6)
    rounds = int(inst.draw("rounds", rng.randint(2, 4)))
    escalation = config.escalation_window_ms
    messages = config.min_messages - 1 if short_messages else config.min_messages
    per_week = max(1, math.ceil(config.slow_high) - 1)
    escalated: list[int] = []  # when each full escalation started
    t = start
    for _ in range(rounds):
        for v in inst.minors(per_window, spread=True, bands=_TEENS):
            recent = [ts for ts in escalated if ts > t - config.slow_window_ms]
            if not short_messages and len(recent) >= per_week:  # wait out the week's count
                t = recent[-per_week] + config.slow_window_ms + rng.randrange(HOUR_MS, 4 * HOUR_MS)
            if not short_messages:
                escalated.append(t)
            gap = max(1, escalation // (messages + 1))
            for k in range(messages):
                media = True if k < config.min_media else None
                inst.emit(t + k * gap, EventType.MESSAGE_SENT, o, v, media=media)
            inst.replies(
                t + MINUTE_MS, v, o, rng.randint(1, 3), media=1 if rng.random() < 0.5 else 0
            )
            t += rng.randrange(HOUR_MS, 3 * HOUR_MS)
        t += config.window_ms + rng.randrange(HOUR_MS, 4 * HOUR_MS)


def under_blocks_reports(inst: Instance, config: Any) -> None:
    """Many minors; blocks and reports by minors kept under the weighted high per window."""
    rng = inst.rng
    start = inst.start_window(0.5, 10)
    o = offender(inst, start)
    rounds = int(inst.draw("rounds", rng.randint(2, 4)))
    t = start
    for _ in range(rounds):
        victims = inst.minors(rng.randint(8, 15), spread=True)
        for v in victims:
            t = inst.dm(t + rng.randrange(2 * MINUTE_MS, 20 * MINUTE_MS), o, v, rng.randint(1, 3))
        weight, last = 0.0, t
        for v in victims:
            report = rng.random() < 0.4
            w = config.report_weight if report else config.block_weight
            if weight + w >= config.high:
                break
            weight += w
            when = t + rng.randrange(10 * MINUTE_MS, config.window_ms // 2)
            last = max(last, when)
            inst.emit(when, EventType.REPORTED if report else EventType.BLOCKED, v, o)
        # The next round's first block falls a whole window after this round's last one.
        t = last + config.window_ms + rng.randrange(HOUR_MS, 6 * HOUR_MS)


def lowest_high(config: Any) -> int:
    """The smallest of a config's `high` and `*_high` count thresholds, rounded up."""
    values = [
        getattr(config, f.name)
        for f in dataclasses.fields(config)
        if f.name == "high" or f.name.endswith("_high")
    ]
    return min(math.ceil(v) for v in values if isinstance(v, int | float) and v >= 1)


def under_churn(inst: Instance, config: Any) -> None:
    """Throwaways on a fresh device and IP each round, one fewer per round than the lowest of
    the detector's account thresholds (`high`, and any `*_high` such as a live-ring one)."""
    rng = inst.rng
    per_window = max(1, lowest_high(config) - 1)
    inst.draw("accounts_per_device", per_window)
    rounds = int(inst.draw("rounds", rng.randint(2, 3)))
    abandon = bool(inst.draw("abandon_instead", rng.random() < 0.3))
    t = inst.start_window(0.5, 9)
    for _ in range(rounds):
        device, ip = inst.device(), inst.ip()
        for _ in range(per_window):
            acc = inst.account(rng.choice(_RING), t, anonymous=True, device=device, home_ip=ip)
            for v in inst.minors(rng.randint(2, 5), spread=True):
                t = inst.dm(
                    t + rng.randrange(2 * MINUTE_MS, 30 * MINUTE_MS), acc, v, rng.randint(1, 3)
                )
            if not abandon:
                inst.delete(t + rng.randrange(10 * MINUTE_MS, 3 * HOUR_MS), acc)
            t += rng.randrange(HOUR_MS, 3 * HOUR_MS)
        t += config.window_ms + rng.randrange(HOUR_MS, 6 * HOUR_MS)


def under_ban_evasion(inst: Instance, config: Any) -> None:
    """A chain of accounts on one device; each re-contacts only `high - 1` minors of all its
    deleted predecessors together, plus new ones."""
    rng = inst.rng
    device, ip = inst.device(), inst.ip()
    t = inst.start_window(0.5, 8)
    back = max(0, config.high - 1)
    generations = int(inst.draw("accounts", rng.randint(3, 5)))
    inst.draw("recontacted_per_account", back)
    deleted_victims: list[Person] = []
    for _ in range(generations):
        acc = offender(inst, t, device=device, home_ip=ip)
        fresh = [v for v in inst.minors(rng.randint(3, 8), spread=True) if v not in deleted_victims]
        victims = rng.sample(deleted_victims, min(back, len(deleted_victims))) + fresh
        for v in victims:
            t = inst.dm(t + rng.randrange(2 * MINUTE_MS, 40 * MINUTE_MS), acc, v, rng.randint(1, 3))
        inst.delete(t + rng.randrange(HOUR_MS, DAY_MS), acc)
        deleted_victims.extend(fresh)
        t += rng.randrange(DAY_MS, 2 * DAY_MS)


# name -> (strategy, the config fields it reads). A config without one of those fields (the
# detector changed) gets the probing attacker instead, and the instance's params say so.
STRATEGIES: Final[dict[str, tuple[Strategy, tuple[str, ...]]]] = {
    "new_contact_burst": (
        under_contact_burst,
        ("fast_window_ms", "fast_high", "slow_window_ms", "slow_high"),
    ),
    "minor_mass_add": (under_mass_add, ("high", "window_ms")),
    "sextortion_velocity": (
        under_sextortion,
        (
            "high",
            "window_ms",
            "slow_high",
            "slow_window_ms",
            "escalation_window_ms",
            "min_messages",
            "min_media",
        ),
    ),
    "minor_blocks_reports": (
        under_blocks_reports,
        ("high", "window_ms", "block_weight", "report_weight"),
    ),
    "anonymous_churn": (under_churn, ("high", "window_ms")),
    "ban_evasion": (under_ban_evasion, ("high",)),
}


def adaptive_patterns(
    detectors: list[Any], engine: EngineConfig | None = None
) -> dict[str, Callable[[Instance], None]]:
    """`adaptive_<name>` for each enforced detector: its own strategy when it has one and its
    config still has the fields it reads, else the probing attacker (`probing.py`), which
    runs the detector under the `engine` settings of the real run."""
    out: dict[str, Callable[[Instance], None]] = {}
    for detector in detectors:
        name, config = detector.name, getattr(detector, "config", None)
        strategy, needs = STRATEGIES.get(name, (None, ()))
        if strategy is not None and all(hasattr(config, f) for f in needs):
            out[f"adaptive_{name}"] = _bind(strategy, config, name)
        else:
            label = "probing" if strategy is None else "probing (config lacks its fields)"
            out[f"adaptive_{name}"] = _bind(partial(probing, engine=engine), detector, label)
    return out


def _bind(strategy: Strategy, config: Any, label: str) -> Callable[[Instance], None]:
    def build(inst: Instance) -> None:
        inst.draw("strategy", label)
        strategy(inst, config)

    return build
