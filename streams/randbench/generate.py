"""One seed: the background, every pattern's instances, the events and the truth."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from streams.model import MINOR_BANDS, Event, EventType
from streams.randbench.adaptive import adaptive_patterns
from streams.randbench.attacks import ATTACKS
from streams.randbench.extra_attacks import EXTRA_ATTACKS
from streams.randbench.instance import Instance, InstanceTruth, Kind
from streams.randbench.lookalikes import LOOKALIKES
from streams.randbench.social import build_background
from streams.randbench.world import SPAN_DAYS, World

DEFAULT_ACCOUNTS = 3000
DEFAULT_INSTANCES = 8
CONTACT_TYPES = frozenset(
    {EventType.MESSAGE_SENT, EventType.CONTACT_ADDED, EventType.GROUP_MEMBER_ADDED}
)
Builder = Callable[[Instance], None]


@dataclass(frozen=True)
class Generated:
    seed: int
    events: list[Event]
    truth: list[InstanceTruth]
    background_accounts: int


def all_patterns(
    detectors: Sequence[Any], engine: Any | None = None
) -> list[tuple[str, Kind, Builder]]:
    """Every attack (named, extra, adaptive to each of `detectors`) and look-alike."""
    attacks = {**ATTACKS, **EXTRA_ATTACKS, **adaptive_patterns(list(detectors), engine)}
    out: list[tuple[str, Kind, Builder]] = [(n, "attack", b) for n, b in attacks.items()]
    out.extend((n, "lookalike", b) for n, b in LOOKALIKES.items())
    return out


def enforced_detectors(config: Any | None) -> list[Any]:
    """The enforced detectors of a `GuardlineConfig` (the defaults if None)."""
    from streams.config import Mode, load_config

    cfg = config if config is not None else load_config()
    return [s.detector for s in cfg.detectors if s.mode is Mode.ENFORCE]


def generate(
    seed: int,
    *,
    accounts: int = DEFAULT_ACCOUNTS,
    instances: int = DEFAULT_INSTANCES,
    config: Any | None = None,
    patterns: Sequence[str] | None = None,
    days: int = SPAN_DAYS,
) -> Generated:
    """Events in (ts, event_id) order and one truth entry per instance. `config`: the
    `GuardlineConfig` whose thresholds the adaptive attackers stay under (defaults if None);
    `patterns`: only these (all when None)."""
    world = World(seed, days=days)
    build_background(world, accounts)
    built: list[Instance] = []
    engine = None if config is None else config.engine
    for name, kind, build in all_patterns(enforced_detectors(config), engine):
        if patterns is not None and name not in patterns:
            continue
        for i in range(instances):
            inst = Instance(world, name, kind, i)
            build(inst)
            built.append(inst)
    events = world.finish()
    starts = _starts(events, built)
    truth = [inst.truth(starts[k]) for k, inst in enumerate(built)]
    return Generated(seed, events, truth, len(world.background))


def _starts(events: list[Event], built: list[Instance]) -> list[int]:
    """Per instance: its accounts' first contact of a minor outside the instance (else their
    first event)."""
    owner = {p.id: k for k, inst in enumerate(built) for p in inst.people}
    first_minor: dict[int, int] = {}
    first_any: dict[int, int] = {}
    for e in events:
        k = owner.get(e.actor.id)
        if k is None:
            continue
        first_any.setdefault(k, e.ts_ms)
        if (
            k not in first_minor
            and e.type in CONTACT_TYPES
            and e.target is not None
            and e.target.age_band in MINOR_BANDS
            and owner.get(e.target.id) != k  # a parent writing to its own child is no contact
        ):
            first_minor[k] = e.ts_ms
    return [first_minor.get(k, first_any.get(k, 0)) for k in range(len(built))]
