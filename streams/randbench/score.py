"""Score alerts against a randomised benchmark's truth.

- An instance is flagged at HIGH+ when a HIGH or CRITICAL alert has as subject one of its
  accounts, or one of its own devices or IPs (shared infrastructure is never its own).
- Attack patterns: instances, caught at HIGH+, median time from the attack's start (its first
  contact of a minor) to the first HIGH+ trigger, and the median distinct minors its accounts
  had reached by then, counted from the events (targets of its MESSAGE_SENT, CONTACT_ADDED
  and GROUP_MEMBER_ADDED with ts <= that trigger), not from the alert's own count.
- Look-alike kinds: instances and false HIGH+.
- Background: distinct HIGH+ subjects that belong to no instance (an account, or a device or
  IP no instance owns), per 10,000 background accounts.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict

from streams.model import MINOR_BANDS, Alert, Event, EventType, Severity
from streams.randbench.instance import InstanceTruth, Param

HIGH_RANK = Severity.HIGH.rank
REACH_TYPES = frozenset(
    {EventType.MESSAGE_SENT, EventType.CONTACT_ADDED, EventType.GROUP_MEMBER_ADDED}
)


@dataclass(frozen=True, slots=True)
class InstanceScore:
    pattern: str
    kind: str
    instance_id: str
    caught: bool
    delay_ms: int | None
    minors_before: int | None
    detectors: tuple[str, ...]  # detectors with a HIGH+ alert on it
    params: Mapping[str, Param] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SeedScore:
    seed: int
    instances: tuple[InstanceScore, ...]
    background_accounts: int
    background_flagged: tuple[str, ...]  # "KIND:id" of HIGH+ subjects outside every instance
    background_detectors: tuple[str, ...] = ()  # per flagged subject, each detector at HIGH+
    events: int = 0
    seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class BenchScore:
    seeds: tuple[SeedScore, ...]
    command: str = ""
    notes: tuple[str, ...] = field(default=())


def first_reach(events: Iterable[Event], accounts: set[str]) -> dict[str, int]:
    """Minor id -> event time at which one of `accounts` first reached it."""
    reached: dict[str, int] = {}
    for e in events:
        target = e.target
        if (
            target is not None
            and e.type in REACH_TYPES
            and e.actor.id in accounts
            and target.age_band in MINOR_BANDS
            and target.id not in accounts
            and target.id not in reached
        ):
            reached[target.id] = e.ts_ms
    return reached


def score_seed(
    seed: int,
    truth: Sequence[InstanceTruth],
    events: Sequence[Event],
    alerts: Iterable[Alert],
    background_accounts: int,
) -> SeedScore:
    high = sorted(
        (a for a in alerts if a.severity.rank >= HIGH_RANK), key=lambda a: a.trigger_ts_ms
    )
    owner: dict[tuple[str, str], int] = {}
    for k, t in enumerate(truth):
        for subject in t.subjects():
            owner[subject] = k
    first: dict[int, int] = {}
    by: dict[int, set[str]] = {}
    background: dict[str, set[str]] = {}
    for a in high:
        key = (a.subject.kind.value, a.subject.id)
        mine = owner.get(key)
        if mine is None:
            background.setdefault(f"{key[0]}:{key[1]}", set()).add(a.detector)
            continue
        first.setdefault(mine, a.trigger_ts_ms)
        by.setdefault(mine, set()).add(a.detector)
    reach = _reach_by_instance(events, truth)
    scores = []
    for k, t in enumerate(truth):
        trigger = first.get(k)
        minors = None
        if trigger is not None:
            minors = sum(1 for ts in reach[k].values() if ts <= trigger)
        scores.append(
            InstanceScore(
                pattern=t.pattern,
                kind=t.kind,
                instance_id=t.instance_id,
                caught=trigger is not None,
                delay_ms=None if trigger is None else trigger - t.start_ts_ms,
                minors_before=minors,
                detectors=tuple(sorted(by.get(k, ()))),
                params=t.params,
            )
        )
    return SeedScore(
        seed,
        tuple(scores),
        background_accounts,
        tuple(sorted(background)),
        tuple(sorted(d for found in background.values() for d in found)),
    )


def _reach_by_instance(
    events: Sequence[Event], truth: Sequence[InstanceTruth]
) -> list[dict[str, int]]:
    owner = {a: k for k, t in enumerate(truth) for a in t.accounts}
    reach: list[dict[str, int]] = [{} for _ in truth]
    for e in events:
        k = owner.get(e.actor.id)
        target = e.target
        if (
            k is not None
            and target is not None
            and e.type in REACH_TYPES
            and target.age_band in MINOR_BANDS
            and owner.get(target.id) != k
        ):
            reach[k].setdefault(target.id, e.ts_ms)
    return reach


# --- the table ----------------------------------------------------------------------------------


def _duration(ms: float) -> str:
    minutes = ms / 60_000
    return f"{minutes:.0f} min" if minutes < 120 else f"{minutes / 60:.1f} h"


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "-"


class PatternRow(TypedDict):
    pattern: str
    instances: int
    high: int
    high_pct: float
    detectors: dict[str, int]
    median_delay_min: float | None  # attacks only (None for look-alikes)
    median_minors_before: float | None


class Table(TypedDict):
    seeds: list[int]
    command: str
    attacks: list[PatternRow]
    lookalikes: list[PatternRow]
    background: dict[str, Any]
    attacks_by: dict[str, dict[str, list[int]]]
    per_seed: list[dict[str, Any]]
    instances: list[dict[str, Any]]


def rows(bench: BenchScore) -> Table:
    """The pooled figures as plain data (for --json)."""
    pooled = [s for seed in bench.seeds for s in seed.instances]
    patterns: dict[str, list[InstanceScore]] = {}
    for s in pooled:
        patterns.setdefault(s.pattern, []).append(s)
    attacks: list[PatternRow] = []
    lookalikes: list[PatternRow] = []
    for name, group in patterns.items():
        caught = [s for s in group if s.caught]
        delays = [s.delay_ms for s in caught if s.delay_ms is not None]
        minors = [s.minors_before for s in caught if s.minors_before is not None]
        attack = group[0].kind == "attack"
        row = PatternRow(
            pattern=name,
            instances=len(group),
            high=len(caught),
            high_pct=round(100 * len(caught) / len(group), 1),
            detectors=dict(Counter(d for s in caught for d in s.detectors).most_common()),
            median_delay_min=(
                round(statistics.median(delays) / 60_000, 1) if attack and delays else None
            ),
            median_minors_before=(float(statistics.median(minors)) if attack and minors else None),
        )
        (attacks if attack else lookalikes).append(row)
    accounts = sum(s.background_accounts for s in bench.seeds)
    flagged = sum(len(s.background_flagged) for s in bench.seeds)
    return {
        "seeds": [s.seed for s in bench.seeds],
        "command": bench.command,
        "attacks": attacks,
        "lookalikes": lookalikes,
        "background": {
            "accounts": accounts,
            "flagged": flagged,
            "per_10k": round(10_000 * flagged / accounts, 2) if accounts else None,
            "detectors": dict(
                Counter(d for s in bench.seeds for d in s.background_detectors).most_common()
            ),
            "subjects": [f"{s.seed}/{x}" for s in bench.seeds for x in s.background_flagged],
        },
        "attacks_by": {p: breakdown(pooled, p) for p in BREAKDOWN_PARAMS},
        "per_seed": [
            {"seed": s.seed, "events": s.events, "seconds": round(s.seconds, 1)}
            for s in bench.seeds
        ],
        "instances": [
            {
                "seed": seed.seed,
                "instance_id": s.instance_id,
                "caught": s.caught,
                "delay_min": None if s.delay_ms is None else round(s.delay_ms / 60_000, 1),
                "minors_before": s.minors_before,
                "detectors": list(s.detectors),
                "params": dict(s.params),
            }
            for seed in bench.seeds
            for s in seed.instances
        ],
    }


# Offender draws worth a line of their own: does detection hold at any declared age, with and
# without the platform's flag, for anonymous and verified, new and old accounts?
BREAKDOWN_PARAMS = ("band", "first_contact_flag", "anonymous", "carrier_nat_ip")


def breakdown(scores: Sequence[InstanceScore], param: str) -> dict[str, list[int]]:
    """Attack instances that drew `param`: value -> [caught at HIGH+, instances]."""
    out: dict[str, list[int]] = {}
    for s in scores:
        if s.kind == "attack" and param in s.params:
            cell = out.setdefault(str(s.params[param]), [0, 0])
            cell[0] += s.caught
            cell[1] += 1
    return dict(sorted(out.items()))


def format_table(bench: BenchScore) -> str:
    data = rows(bench)
    seeds = ",".join(str(s) for s in data["seeds"])
    out = [f"randomised benchmark, seeds {seeds} (instances pooled over seeds)"]
    if bench.command:
        out.append(f"command: {bench.command}")
    out.append("")
    out.append(
        f"{'attack pattern':<34} {'inst':>4} {'HIGH+':>5} {'%':>5} {'median t':>10} "
        f"{'minors':>6}  detectors at HIGH+"
    )
    for r in data["attacks"]:
        delay = r["median_delay_min"]
        minors = r["median_minors_before"]
        out.append(
            f"{r['pattern']:<34} {r['instances']:>4} {r['high']:>5} "
            f"{_pct(r['high'], r['instances']):>5} "
            f"{_duration(delay * 60_000) if delay is not None else '-':>10} "
            f"{minors if minors is not None else '-':>6}  {_detectors(r['detectors'])}"
        )
    out.append("")
    out.append(f"{'look-alike kind':<34} {'inst':>4} {'HIGH+':>5} {'%':>5}  detectors at HIGH+")
    for r in data["lookalikes"]:
        out.append(
            f"{r['pattern']:<34} {r['instances']:>4} {r['high']:>5} "
            f"{_pct(r['high'], r['instances']):>5}  {_detectors(r['detectors'])}"
        )
    bg = data["background"]
    out.append("")
    out.append(
        f"background: {bg['flagged']} HIGH+ subjects over {bg['accounts']} accounts = "
        f"{bg['per_10k']} per 10,000 ({_detectors(bg['detectors'])})"
    )
    out.append("")
    out.append("attack instances caught at HIGH+ by what the offender drew (all patterns):")
    for param, cells in data["attacks_by"].items():
        shown = "  ".join(f"{value} {c}/{n}" for value, (c, n) in cells.items())
        out.append(f"  {param:<20} {shown}")
    out.extend(bench.notes)
    return "\n".join(out)


def _detectors(counts: dict[str, int]) -> str:
    return ", ".join(f"{d} {n}" for d, n in counts.items()) or "-"
