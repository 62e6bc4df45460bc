"""What to simulate: the run's knobs, scenario names and shared constants."""

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

ATTACKS = (
    "fast_contact_burst",
    "slow_contact_burst",
    "mass_add",
    "anonymous_churn",
    "sextortion",
    "blocks_reports",
    "ban_evasion",
    "combined_attacker",
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
_LIFECYCLE = frozenset({CREATED, DELETED})
_CONTACT_TYPES = frozenset({MSG, ADD, GADD})


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
    from streams.simulate.scenarios import _SPECS  # import cycle: scenarios need the config

    for name in sorted(set(cfg.scenarios) - set(_SPECS)):
        errors.append(f"scenarios: unknown {name!r}; known: {', '.join(ALL_SCENARIOS)}")
    if len(set(cfg.scenarios)) != len(cfg.scenarios):
        errors.append(f"scenarios={cfg.scenarios}: duplicates")
    for name in cfg.scenarios:
        spec = _SPECS.get(name)
        if spec and cfg.duration_ms < spec.length_ms + HOUR_MS:
            hours = (spec.length_ms + HOUR_MS) // HOUR_MS
            errors.append(
                f"duration_ms={cfg.duration_ms}: scenario {name!r} needs >= {hours} h; "
                "raise duration_ms or leave it out of scenarios"
            )
    return errors
