"""What to simulate: the run's knobs, the scenarios on offer and shared constants."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from streams.model import AgeBand, EventType

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DEFAULT_START_MS = (datetime(2026, 11, 22, tzinfo=UTC) - _EPOCH) // timedelta(milliseconds=1)

NEW_CONTACT_BURST = "new_contact_burst"
MINOR_MASS_ADD = "minor_mass_add"
ANONYMOUS_CHURN = "anonymous_churn"
SEXTORTION_VELOCITY = "sextortion_velocity"
MINOR_BLOCKS_REPORTS = "minor_blocks_reports"
BAN_EVASION = "ban_evasion"
MEDIA_THEN_PUSHBACK = "media_then_pushback"

ATTACKS = (
    "fast_contact_burst",
    "slow_contact_burst",
    "mass_add",
    "anonymous_churn",
    "sextortion",
    "blocks_reports",
    "ban_evasion",
    "combined_attacker",
    "bait_extortion",
)
LOOKALIKES = (
    "teacher_class_group",
    "popular_teen_inbound",
    "school_ip",
    "family_device",
    "young_adult_friends",
    "adult_onboarding",
)
ALL_SCENARIOS = ATTACKS + LOOKALIKES

Kind = Literal["attack", "lookalike"]

U13, A13, A16 = AgeBand.UNDER_13, AgeBand.AGE_13_15, AgeBand.AGE_16_17
A18, A21, UNK = AgeBand.AGE_18_20, AgeBand.AGE_21_PLUS, AgeBand.UNKNOWN
MSG, ADD, GADD = EventType.MESSAGE_SENT, EventType.CONTACT_ADDED, EventType.GROUP_MEMBER_ADDED
JOIN, CREATED, DELETED = (
    EventType.GROUP_JOINED,
    EventType.ACCOUNT_CREATED,
    EventType.ACCOUNT_DELETED,
)
LIFECYCLE = frozenset({CREATED, DELETED})
STEADY_FRIENDS = 10  # a steady run's cap on one person's friends (see SimulationConfig.steady)
STEADY_GROUPS = 4  # and on the groups one person is in
CONTACT_TYPES = frozenset({MSG, ADD, GADD})


@dataclass(frozen=True)
class ScenarioSpec:
    """What one scenario plants (`scenarios.BUILDERS` holds how it is built)."""

    kind: Kind
    instances: int
    length_ms: int  # the longest event-time span one instance needs
    expected: tuple[str, ...]


SPECS: dict[str, ScenarioSpec] = {
    "fast_contact_burst": ScenarioSpec("attack", 3, 2 * HOUR_MS, (NEW_CONTACT_BURST,)),
    "slow_contact_burst": ScenarioSpec("attack", 2, 37 * HOUR_MS, (NEW_CONTACT_BURST,)),
    "mass_add": ScenarioSpec("attack", 3, 2 * HOUR_MS, (MINOR_MASS_ADD,)),
    "anonymous_churn": ScenarioSpec("attack", 2, 30 * HOUR_MS, (ANONYMOUS_CHURN,)),
    "sextortion": ScenarioSpec("attack", 3, 6 * HOUR_MS, (SEXTORTION_VELOCITY,)),
    "blocks_reports": ScenarioSpec("attack", 2, 8 * HOUR_MS, (MINOR_BLOCKS_REPORTS,)),
    "ban_evasion": ScenarioSpec("attack", 2, 16 * HOUR_MS, (BAN_EVASION,)),
    "combined_attacker": ScenarioSpec(
        "attack", 1, 3 * HOUR_MS, (NEW_CONTACT_BURST, MINOR_MASS_ADD, SEXTORTION_VELOCITY)
    ),
    "bait_extortion": ScenarioSpec("attack", 2, 20 * HOUR_MS, (MEDIA_THEN_PUSHBACK,)),
    "teacher_class_group": ScenarioSpec("lookalike", 2, 5 * HOUR_MS, ()),
    "popular_teen_inbound": ScenarioSpec("lookalike", 2, 5 * HOUR_MS, ()),
    "school_ip": ScenarioSpec("lookalike", 1, 8 * HOUR_MS, ()),
    "family_device": ScenarioSpec("lookalike", 2, 2 * HOUR_MS, ()),
    "young_adult_friends": ScenarioSpec("lookalike", 2, 12 * HOUR_MS, ()),
    "adult_onboarding": ScenarioSpec("lookalike", 2, 2 * HOUR_MS, ()),
}
assert tuple(SPECS) == ALL_SCENARIOS


@dataclass(frozen=True)
class SimulationConfig:
    """What to simulate.

    The default run spans 48 h so the slow (day-long) contact burst fits. `events_target`
    is the bench knob: the background population grows or shrinks (per-user activity stays
    realistic) so the whole run has about that many events.
    """

    seed: int = 7
    start_ms: int = DEFAULT_START_MS
    duration_ms: int = 48 * HOUR_MS
    normal_users: int = 1500
    groups: int = 150
    scenarios: tuple[str, ...] = ALL_SCENARIOS
    events_target: int | None = None
    # A population whose working set stays the same size over weeks (the soak's traffic):
    # as many accounts leave as are created (some deleted, most just stop coming back),
    # a person keeps in touch with at most STEADY_FRIENDS friends and stays in at most
    # STEADY_GROUPS groups (the oldest fade). Off, friend lists and group rosters only grow
    # and new accounts outnumber departures ~3 to 1, which is fine for a few days of traffic.
    steady: bool = False

    def __post_init__(self) -> None:
        errors = _config_errors(self)
        if errors:
            raise ValueError("invalid SimulationConfig: " + "; ".join(errors))

    @property
    def end_ms(self) -> int:
        """Exclusive end of the run in event time."""
        return self.start_ms + self.duration_ms


def _config_errors(cfg: SimulationConfig) -> list[str]:
    """Every problem at once, each naming the key, the bad value and a hint."""
    errors = []
    if cfg.duration_ms <= 0:
        errors.append(f"duration_ms={cfg.duration_ms}: must be > 0")
    if cfg.normal_users < 300:
        errors.append(f"normal_users={cfg.normal_users}: need >= 300 (scenarios pick minors)")
    if cfg.groups < 10:
        errors.append(f"groups={cfg.groups}: need >= 10")
    if cfg.events_target is not None and cfg.events_target < 10_000:
        errors.append(f"events_target={cfg.events_target}: use None or >= 10000")
    for name in sorted(set(cfg.scenarios) - set(SPECS)):
        errors.append(f"scenarios: unknown {name!r}; known: {', '.join(ALL_SCENARIOS)}")
    if len(set(cfg.scenarios)) != len(cfg.scenarios):
        errors.append(f"scenarios={cfg.scenarios}: duplicates")
    for name in cfg.scenarios:
        spec = SPECS.get(name)
        if spec and cfg.duration_ms < spec.length_ms + HOUR_MS:
            hours = (spec.length_ms + HOUR_MS) // HOUR_MS
            errors.append(
                f"duration_ms={cfg.duration_ms}: scenario {name!r} needs >= {hours} h; "
                "raise duration_ms or leave it out of scenarios"
            )
    return errors
