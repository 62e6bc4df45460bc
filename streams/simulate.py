"""Seeded synthetic chat metadata: background traffic, attack scenarios, look-alikes, truth.

Why: detectors are tuned and backtested on traffic whose answer is known. Each pattern the
police described (adults posing as teens, bulk first contacts, bulk group adds, throwaway
accounts, fast escalation) runs next to the benign traffic that looks most like it (a teacher
adding a class, a popular teen, a school IP, a family tablet), so a detector that cannot tell
them apart shows up as a false positive in the backtest.

Pure: no Kafka, no wall clock, no global random. The same config gives the same events and
truth; every random choice comes from a `random.Random` seeded from `SimulationConfig.seed`.
"""

from __future__ import annotations

import gc
import json
import random
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from operator import itemgetter
from pathlib import Path
from typing import Literal

from streams.model import Account, AgeBand, Event, EventType, SubjectKind

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


@dataclass(frozen=True)
class TruthEntry:
    """One planted scenario instance: what a perfect pipeline should (not) alert on.

    `first_event_ts_ms` is the scenario's first event (often an account creation, hours
    before anything happens); `attack_start_ts_ms` is the subject's first contact of a minor
    (message, contact add or group add; for a device or IP, by any account on it), which is
    where "time to detect" counts from. `attacker_accounts` lists every account the attacker
    controls (for a churn device, each throwaway; for ban evasion, the deleted account too):
    an alert on one of them is about the attacker, not a false alarm.
    """

    scenario: str
    kind: Kind
    subject_kind: SubjectKind
    subject_id: str
    expected_detectors: tuple[str, ...]
    first_event_ts_ms: int
    minors_targeted: tuple[str, ...]
    description: str
    attack_start_ts_ms: int = 0
    attacker_accounts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Simulation:
    """One run: its config, its events sorted by (ts_ms, event_id), and its ground truth."""

    config: SimulationConfig
    events: list[Event]
    truth: list[TruthEntry]


def simulate(cfg: SimulationConfig | None = None) -> Simulation:
    """All events (sorted by ts_ms, event_id) and the ground truth of one run."""
    cfg = cfg or SimulationConfig()
    plan = _Plan(cfg)
    with _collector_paused():
        events = list(plan.events())
    return Simulation(cfg, events, plan.truth)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic GC while a big list of acyclic objects is built.

    Each collection would rescan every Event built so far: ~40% of the time of a 1M run.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def iter_events(cfg: SimulationConfig | None = None) -> Iterator[Event]:
    """The same events as `simulate`, streamed hour by hour (memory stays flat for big runs)."""
    return _Plan(cfg or SimulationConfig()).events()


def simulate_truth(cfg: SimulationConfig | None = None) -> list[TruthEntry]:
    """Only the truth (cheap: the background is never generated)."""
    return _Plan(cfg or SimulationConfig()).truth


def write_truth(path: str | Path, truth: Iterable[TruthEntry]) -> None:
    with Path(path).open("w", encoding="utf-8") as out:
        for entry in truth:
            out.write(json.dumps(asdict(entry), sort_keys=True) + "\n")


def read_truth(path: str | Path) -> list[TruthEntry]:
    """Read `write_truth` output; a bad line raises ValueError naming the line."""
    entries = []
    with Path(path).open(encoding="utf-8") as lines:
        for n, line in enumerate(lines, 1):
            if line.strip():
                try:
                    entries.append(_truth_from_json(json.loads(line)))
                except (ValueError, KeyError, TypeError) as exc:
                    raise ValueError(f"{path}:{n}: bad truth line: {exc!r}") from exc
    return entries


def _truth_from_json(d: dict[str, object]) -> TruthEntry:
    kind = d["kind"]
    if kind not in ("attack", "lookalike"):
        raise ValueError(f"kind={kind!r}: expected 'attack' or 'lookalike'")
    return TruthEntry(
        scenario=str(d["scenario"]),
        kind="attack" if kind == "attack" else "lookalike",
        subject_kind=SubjectKind(str(d["subject_kind"])),
        subject_id=str(d["subject_id"]),
        expected_detectors=tuple(str(x) for x in _as_list(d["expected_detectors"])),
        first_event_ts_ms=int(str(d["first_event_ts_ms"])),
        minors_targeted=tuple(str(x) for x in _as_list(d["minors_targeted"])),
        description=str(d["description"]),
        # Absent in truth files written before these fields existed.
        attack_start_ts_ms=int(str(d.get("attack_start_ts_ms", d["first_event_ts_ms"]))),
        attacker_accounts=tuple(str(x) for x in _as_list(d.get("attacker_accounts", []))),
    )


def _as_list(value: object) -> list[object]:
    if not isinstance(value, list):
        raise TypeError(f"expected a list, got {value!r}")
    return value


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


# --- population -------------------------------------------------------------------------

# One event before it gets its id: (ts_ms, type, actor, target, group_id, device, ip,
# first_contact, has_media). Sorts are stable and by ts_ms only, so ties keep the order in
# which they were generated and the run stays deterministic.
_Str = str | None
_Rec = tuple[int, EventType, Account, Account | None, _Str, _Str, _Str, bool | None, bool | None]
_ts = itemgetter(0)

_BANDS = (U13, A13, A16, A18, A21, UNK)
_BAND_CUM = tuple(accumulate((12, 28, 22, 12, 18, 8)))
_ORDER = {U13: 0, A13: 1, A16: 2, A18: 3, A21: 4}
# Activity by hour of day (UTC ~ UK): quiet at night, peaks after school.
_DIURNAL = (5, 3, 2, 2, 2, 2, 4, 6, 8, 8, 8, 9, 9, 9, 10, 11, 13, 14, 15, 16, 16, 14, 11, 8)


def _busy_hours(start_ms: int, end_ms: int) -> float:
    """Hours in [start_ms, end_ms), each weighted by how busy that hour of the day is."""
    mean = sum(_DIURNAL) / 24
    return sum(
        _DIURNAL[t // HOUR_MS % 24] / mean * (min(t + HOUR_MS, end_ms) - t) / HOUR_MS
        for t in range(start_ms, end_ms, HOUR_MS)
    )


_EVENTS_PER_USER_HOUR = 1.75  # background events per user and hour at scale 1
_BACKGROUND_EVENTS_PER_ACTIVITY = 8.1  # measured mean events per background activity


@dataclass(eq=False, slots=True)
class _Person:
    """One account with the devices and IPs it uses; identity-hashed (eq=False)."""

    account: Account
    device: str
    home_ip: str
    mobile_ip: str
    groups: list[str] = field(default_factory=list)
    friends: list[_Person] = field(default_factory=list)
    deleted: bool = False
    reserved: bool = False  # used by a scenario: background never deletes it
    last_ms: int = 0


class _Ids:
    """Random-looking unique ids, so an id's value says nothing about the account's role."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._used: set[str] = set()

    def new(self, prefix: str) -> str:
        while True:
            value = f"{prefix}-{self._rng.getrandbits(40):010x}"
            if value not in self._used:
                self._used.add(value)
                return value


def _pair(a: _Person, b: _Person) -> tuple[str, str]:
    x, y = a.account.id, b.account.id
    return (x, y) if x < y else (y, x)


def _band(rng: random.Random) -> AgeBand:
    r = rng.random() * _BAND_CUM[-1]
    return next(b for b, c in zip(_BANDS, _BAND_CUM, strict=True) if r < c)


class _Population:
    """Background accounts, households, groups and pre-run friendships."""

    def __init__(self, cfg: SimulationConfig, n_users: int, rng: random.Random, ids: _Ids):
        self.rng, self.ids = rng, ids
        self.persons: list[_Person] = []
        self.by_band: dict[AgeBand, list[_Person]] = {b: [] for b in _BANDS}
        self.groups: dict[str, list[_Person]] = {}
        self.groups_by_band: dict[AgeBand, list[str]] = {b: [] for b in _BANDS}
        self.talked: set[tuple[str, str]] = set()  # pairs that have ever exchanged a DM
        self.carrier_ips = [ids.new("ip") for _ in range(max(4, n_users // 60))]
        self.home_ips: list[str] = []
        for _ in range(max(10, round(cfg.groups * n_users / cfg.normal_users))):
            band = _band(rng)
            gid = ids.new("g")
            self.groups[gid] = []
            self.groups_by_band[A21 if band is UNK else band].append(gid)
        while len(self.persons) < n_users:
            self._household(cfg.start_ms)
        for p in self.persons:
            self._befriend(p)
        self.tickets = [p for p in self.persons for _ in range(1 + int(rng.expovariate(0.5)))]

    def new_person(self, band: AgeBand, created_ms: int | None, anonymous: bool) -> _Person:
        home = self.rng.choice(self.home_ips) if self.rng.random() < 0.3 else self.ids.new("ip")
        account = Account(self.ids.new("u"), band, created_ms, anonymous)
        return _Person(account, self.ids.new("d"), home, self.rng.choice(self.carrier_ips))

    def join_some_groups(self, p: _Person) -> list[str]:
        """1-3 groups; returns the ones newly joined."""
        return [g for _ in range(self.rng.randint(1, 3)) if (g := self.join_group(p))]

    def join_group(self, p: _Person) -> str | None:
        """A group of p's band (sometimes an adjacent one; UNKNOWN: any); None if already in."""
        band = p.account.age_band
        if band is UNK or self.rng.random() < 0.2:
            order = _ORDER.get(band, self.rng.randrange(5))
            band = _BANDS[min(4, max(0, order + self.rng.choice((-1, 1))))]
        gid = self.rng.choice(self.groups_by_band[band] or list(self.groups))
        if gid in p.groups:
            return None
        p.groups.append(gid)
        self.groups[gid].append(p)
        return gid

    def stranger(self, p: _Person) -> _Person:
        """Someone p may not know yet: mostly a group mate, else the same band, rarely anyone."""
        r = self.rng.random()
        if r < 0.7 and p.groups:
            return self.rng.choice(self.groups[self.rng.choice(p.groups)])
        pool = self.by_band[p.account.age_band] if r < 0.95 else self.persons
        return pool[int(self.rng.random() * len(pool))]

    def add(self, p: _Person) -> None:
        self.persons.append(p)
        self.by_band[p.account.age_band].append(p)

    def befriend(self, a: _Person, b: _Person) -> None:
        a.friends.append(b)
        b.friends.append(a)

    def _household(self, start_ms: int) -> None:
        rng = self.rng
        home = self.ids.new("ip")
        self.home_ips.append(home)
        device = None
        for _ in range(rng.choice((1, 1, 1, 2, 2, 3, 4))):
            band = _band(rng)
            created = start_ms - rng.randint(DAY_MS, 5 * 365 * DAY_MS)
            anonymous = rng.random() < (0.3 if band is UNK else 0.1)
            account = Account(
                self.ids.new("u"), band, created if rng.random() < 0.88 else None, anonymous
            )
            if device is None or rng.random() > 0.2:
                device = self.ids.new("d")
            p = _Person(account, device, home, rng.choice(self.carrier_ips))
            self.add(p)
            self.join_some_groups(p)

    def _befriend(self, p: _Person) -> None:
        """Pre-run friendships (they talked before the run, so never a first contact)."""
        for _ in range(self.rng.randint(1, 4)):
            q = self.stranger(p)
            key = _pair(p, q)
            if q is not p and key not in self.talked:
                self.talked.add(key)
                self.befriend(p, q)


# --- emitting records ----------------------------------------------------------------------


class _Emitter:
    """Appends records; decides which device and IP each event carries."""

    def __init__(self, rng: random.Random, talked: set[tuple[str, str]]) -> None:
        self.rng, self.talked = rng, talked
        self.recs: list[_Rec] = []

    def emit(
        self,
        ts: int,
        etype: EventType,
        actor: _Person,
        target: _Person | None = None,
        group: str | None = None,
        first_contact: bool | None = None,
        media: bool | None = None,
    ) -> None:
        device, ip = self.where(actor, etype in _LIFECYCLE)
        tgt = None if target is None else target.account
        self.recs.append((ts, etype, actor.account, tgt, group, device, ip, first_contact, media))
        if ts > actor.last_ms:
            actor.last_ms = ts
        if target is not None and ts > target.last_ms:
            target.last_ms = ts

    def chat(self, ts: int, a: _Person, b: _Person, n: int, reply_p: float = 0.75) -> int:
        """n direct messages starting a -> b, turns mostly alternating; returns the next ts.

        Each side keeps one device and network for the whole exchange. This is the hot path
        of the background (~75% of events): one 32-bit draw per message, records inline.
        """
        bits, recs, last, turn = self.rng.getrandbits, self.recs, ts, int(reply_p * 256)
        key = _pair(a, b)
        flag = key not in self.talked
        self.talked.add(key)
        me, other = (a.account, *self.where(a)), (b.account, *self.where(b))
        for _ in range(n):
            r = bits(32)  # bit 0: flag shown; bits 1-5: media (1 in 32); 6-22: gap; 24-31: turn
            fc = flag if r & 1 else None
            media = True if r & 62 == 0 else None
            recs.append((ts, MSG, me[0], other[0], None, me[1], me[2], fc, media))
            flag, last = False, ts
            ts += 4_000 + (r >> 6 & 0x1FFFF)
            if r >> 24 < turn:
                me, other = other, me
        if last > a.last_ms:
            a.last_ms = last
        if last > b.last_ms:
            b.last_ms = last
        return ts

    def where(self, p: _Person, lifecycle: bool = False) -> tuple[str | None, str | None]:
        """The device and IP an event carries: most events have both; lifecycle events always."""
        r = self.rng.getrandbits(8)  # low 4 bits: device (1 in 16 without); high: ip
        device = p.device if lifecycle or r & 15 else None
        ip = p.home_ip if r < 160 else p.mobile_ip if r < 232 or lifecycle else None
        return device, ip


# --- background ------------------------------------------------------------------------------


class _Background(_Emitter):
    """Normal traffic, generated one hour at a time so big runs stream in flat memory."""

    def __init__(self, cfg: SimulationConfig, pop: _Population, rate: float) -> None:
        super().__init__(random.Random(f"{cfg.seed}:background"), pop.talked)
        self.cfg, self.pop, self.rate = cfg, pop, rate
        self.newcomers: list[_Person] = []
        weights = (
            (self._dm_session, 660),
            (self._group_chat, 210),
            (self._contact_add, 60),
            (self._group_join, 45),
            (self._block_or_report, 6),
            (self._create, 1.6),
            (self._delete, 0.6),
        )
        total = sum(w for _, w in weights)
        self.activities = [
            (c / total, f)
            for (f, _), c in zip(weights, accumulate(w for _, w in weights), strict=True)
        ]

    def hours(self, scene_recs: list[_Rec]) -> Iterator[list[_Rec]]:
        """Background merged with the (sorted) scenario records, one event-time hour a batch."""
        done = 0
        for t0 in range(self.cfg.start_ms, self.cfg.end_ms, HOUR_MS):
            t1 = min(t0 + HOUR_MS, self.cfg.end_ms)
            for p in self.newcomers:  # created last hour, active from now on
                self.pop.add(p)
                self.pop.tickets.append(p)
            self.newcomers = []
            expected = self.rate * len(self.pop.persons) * _busy_hours(t0, t1)
            n = int(expected + self.rng.random())
            for t in sorted(t0 + int(self.rng.random() * (t1 - t0)) for _ in range(n)):
                self._activity(t)
            upto = bisect_left(scene_recs, t1, key=_ts)
            self.recs.extend(scene_recs[done:upto])
            done = upto
            self.recs.sort(key=_ts)
            cut = bisect_left(self.recs, t1, key=_ts)  # later records wait for the next hour
            yield self.recs[:cut]
            del self.recs[:cut]

    def _activity(self, t: int) -> None:
        r = self.rng.random()
        for threshold, run in self.activities:
            if r < threshold:
                run(t)
                return

    def _pick(self) -> _Person | None:
        p = self.pop.tickets[int(self.rng.random() * len(self.pop.tickets))]
        return None if p.deleted else p

    def _partner(self, p: _Person, friend_p: float) -> _Person | None:
        q = (
            p.friends[int(self.rng.random() * len(p.friends))]
            if p.friends and self.rng.random() < friend_p
            else self.pop.stranger(p)
        )
        return None if q is p or q.deleted else q

    def _dm_session(self, t: int) -> None:
        a = self._pick()
        b = a and self._partner(a, 0.85)
        if a is None or b is None:
            return
        new = _pair(a, b) not in self.talked
        self.chat(t, a, b, 3 + min(40, int(self.rng.expovariate(0.125))))
        if new and self.rng.random() < 0.5:
            self.pop.befriend(a, b)

    def _group_chat(self, t: int) -> None:
        a, rnd = self._pick(), self.rng.random
        if a is None or not a.groups:
            return
        gid = a.groups[int(rnd() * len(a.groups))]
        members = self.pop.groups[gid]
        for _ in range(2 + int(rnd() * 7)):
            m = members[int(rnd() * len(members))]
            if not m.deleted:
                self.emit(t, MSG, m, group=gid, media=True if rnd() < 0.05 else None)
            t += 5_000 + int(rnd() * 175_000)

    def _contact_add(self, t: int) -> None:
        """Contact adds are mostly reciprocal."""
        a = self._pick()
        b = a and self._partner(a, 0.4)
        if a is None or b is None:
            return
        self.emit(t, ADD, a, b)
        if self.rng.random() < 0.8:
            self.emit(t + self.rng.randint(MINUTE_MS, 30 * MINUTE_MS), ADD, b, a)

    def _group_join(self, t: int) -> None:
        a = self._pick()
        if a is None:
            return
        b = self._partner(a, 1.0)
        if self.rng.random() < 0.5 and b is not None and a.groups:
            gid = self.rng.choice(a.groups)
            if gid not in b.groups:
                b.groups.append(gid)
                self.pop.groups[gid].append(b)
                self.emit(t, GADD, a, b, group=gid)
            return
        joined = self.pop.join_group(a)
        if joined is not None:
            self.emit(t, JOIN, a, group=joined)

    def _block_or_report(self, t: int) -> None:
        a = self._pick()
        b = a and self._partner(a, 0.3)
        if a is not None and b is not None:
            self.emit(t, EventType.BLOCKED if self.rng.random() < 0.7 else EventType.REPORTED, a, b)

    def _create(self, t: int) -> None:
        band = _band(self.rng)
        p = self.pop.new_person(band, t, self.rng.random() < 0.25)
        self.emit(t, CREATED, p)
        for gid in self.pop.join_some_groups(p):
            t += self.rng.randint(MINUTE_MS, 20 * MINUTE_MS)
            self.emit(t, JOIN, p, group=gid)
        self.newcomers.append(p)

    def _delete(self, t: int) -> None:
        """Rare deletions, after the account's last event so nothing follows them."""
        p = self._pick()
        if p is not None and not p.reserved:
            p.deleted = True
            self.emit(max(t, p.last_ms + self.rng.randint(MINUTE_MS, 30 * MINUTE_MS)), DELETED, p)


# --- scenarios -------------------------------------------------------------------------------


class _Scene(_Emitter):
    """One scenario instance: its own random stream, records and conversation memory."""

    def __init__(self, plan: _Plan, name: str, index: int) -> None:
        super().__init__(random.Random(f"{plan.cfg.seed}:{name}:{index}"), set())
        self.cfg, self.pop, self.ids = plan.cfg, plan.pop, plan.ids
        self.name, self.index, self.spec = name, index, _SPECS[name]
        self.chosen: set[str] = set()
        self.talked_before: set[tuple[str, str]] = set()  # pairs that talked before the run

    def slot(self) -> int:
        """A start time leaving room for the scenario's whole span before the run ends."""
        lo = self.cfg.start_ms + 30 * MINUTE_MS
        return self.rng.randint(lo, self.cfg.end_ms - self.spec.length_ms - 30 * MINUTE_MS)

    def account(
        self,
        band: AgeBand,
        created_ms: int,
        anonymous: bool,
        device: str | None = None,
        ip: str | None = None,
    ) -> _Person:
        """A scenario-owned account; ACCOUNT_CREATED is emitted if it is born inside the run."""
        known = created_ms >= self.cfg.start_ms or self.rng.random() < 0.9
        account = Account(self.ids.new("u"), band, created_ms if known else None, anonymous)
        mobile = ip or self.rng.choice(self.pop.carrier_ips)
        p = _Person(account, device or self.ids.new("d"), ip or self.ids.new("ip"), mobile)
        if created_ms >= self.cfg.start_ms:
            self.emit(created_ms, CREATED, p)
        return p

    def attacker(self, t0: int, anonymous_p: float = 0.7, recent_p: float = 0.7) -> _Person:
        """Adult or unknown-age account, often anonymous, often created just before."""
        rng = self.rng
        band = rng.choice((A21, A21, UNK))
        recent = rng.random() < recent_p
        age = rng.randint(5 * MINUTE_MS, 2 * DAY_MS) if recent else rng.randint(20, 400) * DAY_MS
        return self.account(band, t0 - age, rng.random() < anonymous_p)

    def old_account(self, band: AgeBand, t0: int) -> _Person:
        """Established, verified account (look-alike subjects)."""
        return self.account(band, t0 - self.rng.randint(300 * DAY_MS, 6 * 365 * DAY_MS), False)

    def people(self, n: int, bands: Sequence[AgeBand], weights: Sequence[int]) -> list[_Person]:
        """n distinct background accounts of the given bands, reserved from deletion."""
        pools = {
            b: [p for p in self.pop.by_band[b] if p.account.id not in self.chosen] for b in bands
        }
        picked: list[_Person] = []
        while len(picked) < n:
            live = [(b, w) for b, w in zip(bands, weights, strict=True) if w and pools[b]]
            if not live:
                raise ValueError(f"{self.name}: too few {bands} accounts; raise normal_users")
            band = self.rng.choices([b for b, _ in live], [w for _, w in live])[0]
            p = pools[band].pop(int(self.rng.random() * len(pools[band])))
            self.chosen.add(p.account.id)
            p.reserved = True
            picked.append(p)
        return picked

    def minors(self, n: int, weights: Sequence[int] = (35, 45, 20)) -> list[_Person]:
        return self.people(n, (U13, A13, A16), weights)

    def truth(
        self,
        kind: SubjectKind,
        subject: str,
        minors: Iterable[_Person],
        why: str,
        controlled: Iterable[_Person] = (),
    ) -> TruthEntry:
        """Finish the scene (clip to the run, fix first-contact flags) and describe it.

        `controlled`: the attacker's accounts besides an ACCOUNT subject itself."""
        self.recs = [r for r in self.recs if r[0] < self.cfg.end_ms]
        self._first_contacts_in_time_order()
        ids = tuple(dict.fromkeys(p.account.id for p in minors if p.account.age_band.is_minor))
        first = min(r[0] for r in self.recs)
        spec = self.spec
        accounts: list[str] = []
        if spec.kind == "attack":
            accounts = [subject] if kind is SubjectKind.ACCOUNT else []
            accounts += [p.account.id for p in controlled if p.account.id not in accounts]
        start = self._first_minor_contact(kind, subject, first)
        return TruthEntry(
            self.name,
            spec.kind,
            kind,
            subject,
            spec.expected,
            first,
            ids,
            why,
            start,
            tuple(accounts),
        )

    def _first_minor_contact(self, kind: SubjectKind, subject: str, default: int) -> int:
        """When the subject first reached a minor (message, contact or group add); for a device
        or IP, through any account on it. `default` when it never did (most look-alikes)."""
        slot = {SubjectKind.DEVICE: 5, SubjectKind.IP: 6}.get(kind)
        for rec in self.recs:  # sorted by ts
            target = rec[3]
            if rec[1] not in _CONTACT_TYPES or target is None or not target.age_band.is_minor:
                continue
            if rec[2].id == subject if slot is None else rec[slot] == subject:
                return rec[0]
        return default

    def last_dm(self, a: _Person, b: _Person) -> int:
        """When a and b last messaged each other in this scene."""
        pair = {a.account, b.account}
        return max(r[0] for r in self.recs if r[1] is MSG and {r[2], r[3]} == pair)

    def dm(self, ts: int, a: _Person, b: _Person, media: bool = False) -> None:
        """A direct message; the platform shows the first-contact flag on about half of them."""
        shown = self.rng.random() < 0.5  # the value is set at the end, in time order
        self.emit(ts, MSG, a, b, first_contact=False if shown else None, media=media or None)

    def _first_contacts_in_time_order(self) -> None:
        """Scenes are written out of time order, so shown flags get their value in ts order."""
        self.recs.sort(key=_ts)
        seen = set(self.talked_before)
        for i, (ts, etype, actor, target, group, dev, ip, flag, media) in enumerate(self.recs):
            if etype is MSG and target is not None:
                key = (actor.id, target.id) if actor.id < target.id else (target.id, actor.id)
                first = key not in seen
                seen.add(key)
                if flag is not None:
                    self.recs[i] = (ts, etype, actor, target, group, dev, ip, first, media)


def _spread(rng: random.Random, n: int, t0: int, span_ms: int) -> list[int]:
    """n times in [t0, t0 + span_ms): one per equal slice, jittered inside it."""
    step = span_ms // n
    return [t0 + i * step + int(rng.random() * step) for i in range(n)]


def _first_contacts(
    s: _Scene,
    x: _Person,
    minors: Sequence[_Person],
    times: Sequence[int],
    reply_p: float = 0.15,
    escalate: Sequence[_Person] = (),
) -> None:
    """x opens a conversation with each minor at its time: a message or three, few answer."""
    rng = s.rng
    for m, t in zip(minors, times, strict=True):
        if m in escalate:
            _escalate(s, x, m, t)
            continue
        if rng.random() < 0.3:
            s.emit(t, ADD, x, m)
            t += rng.randint(2_000, 30_000)
        s.dm(t, x, m)
        for _ in range(rng.randint(0, 2)):
            t += rng.randint(20_000, 4 * MINUTE_MS)
            s.dm(t, x, m, media=rng.random() < 0.05)
        if rng.random() < reply_p:
            s.chat(t + rng.randint(MINUTE_MS, 20 * MINUTE_MS), m, x, rng.randint(1, 3), 0.5)


def _escalate(s: _Scene, x: _Person, m: _Person, t: int) -> int:
    """Sextortion pattern: a first contact, then a flood of messages and media within minutes."""
    rng = s.rng
    end = t + rng.randint(8, 20) * MINUTE_MS
    s.dm(t, x, m)
    n = rng.randint(12, 25)
    media = set(rng.sample(range(n), rng.randint(2, 4)))
    for i, ts in enumerate(sorted(rng.randrange(t + 5_000, end) for _ in range(n))):
        s.dm(ts, x, m, media=i in media)
    replies = sorted(rng.randrange(t + 30_000, end) for _ in range(rng.randint(2, 6)))
    for i, ts in enumerate(replies):
        s.dm(ts, m, x, media=i == len(replies) - 1 and rng.random() < 0.6)
    return end


def _mass_add(s: _Scene, x: _Person, minors: Sequence[_Person], t0: int, n_groups: int) -> None:
    """x makes n_groups groups and adds the minors to them (some also as contacts) in 45 min."""
    rng = s.rng
    groups = [s.ids.new("g") for _ in range(n_groups)]
    for i, gid in enumerate(groups):
        s.emit(t0 + i * MINUTE_MS, JOIN, x, group=gid)
    times = sorted(t0 + 5 * MINUTE_MS + rng.randrange(40 * MINUTE_MS) for _ in minors)
    for i, (m, t) in enumerate(zip(minors, times, strict=True)):
        s.emit(t, GADD, x, m, group=groups[i] if i < n_groups else rng.choice(groups))
        if rng.random() < 0.3:
            s.emit(t + rng.randint(1_000, 60_000), ADD, x, m)
    for gid in groups:
        for _ in range(rng.randint(2, 5)):
            ts = t0 + 46 * MINUTE_MS + rng.randrange(30 * MINUTE_MS)
            s.emit(ts, MSG, x, group=gid, media=True if rng.random() < 0.3 else None)


def _fast_contact_burst(s: _Scene) -> TruthEntry:
    """Dozens of never-contacted minors messaged within an hour (the police's core pattern)."""
    t0 = s.slot()
    x = s.attacker(t0)
    minors = s.minors(s.rng.randint(25, 60))
    _first_contacts(s, x, minors, _spread(s.rng, len(minors), t0, 55 * MINUTE_MS))
    why = f"{x.account.age_band} account first-contacted {len(minors)} minors within an hour"
    return s.truth(SubjectKind.ACCOUNT, x.account.id, minors, why)


def _slow_contact_burst(s: _Scene) -> TruthEntry:
    """The same trawl kept below hourly thresholds: 15-30 minors over 24-36 h."""
    t0 = s.slot()
    x = s.attacker(t0, recent_p=0.4)
    minors = s.minors(s.rng.randint(15, 30))
    times = _spread(s.rng, len(minors), t0, s.rng.randint(28 * HOUR_MS, 36 * HOUR_MS))
    _first_contacts(s, x, minors, times)
    hours = (times[-1] - times[0]) // HOUR_MS  # >= 24: 28 h * 13/15 at the least
    why = f"account first-contacted {len(minors)} minors spread over {hours} h"
    return s.truth(SubjectKind.ACCOUNT, x.account.id, minors, why)


def _mass_add_attack(s: _Scene) -> TruthEntry:
    """Minors of mixed ages bulk-added to several fresh groups by one adult."""
    t0 = s.slot()
    x = s.attacker(t0, anonymous_p=0.5)
    minors = s.minors(s.rng.randint(20, 40))
    n_groups = s.rng.randint(3, 5)
    _mass_add(s, x, minors, t0, n_groups)
    why = f"adult added {len(minors)} minors to {n_groups} new groups within an hour"
    return s.truth(SubjectKind.ACCOUNT, x.account.id, minors, why)


def _anonymous_churn(s: _Scene) -> TruthEntry:
    """Throwaway anonymous accounts declaring teen ages, each used on minors then deleted.

    Even instances keep one device and hop mobile IPs; odd ones keep one IP (home line or
    VPN exit) and reset the device id each time, so each instance has exactly one subject.
    """
    rng = s.rng
    t = s.slot()
    kind = SubjectKind.DEVICE if s.index % 2 == 0 else SubjectKind.IP
    subject = s.ids.new("d" if kind is SubjectKind.DEVICE else "ip")
    device, ip = (subject, None) if kind is SubjectKind.DEVICE else (None, subject)
    pool = s.minors(rng.randint(12, 20))
    n, reached, throwaways = rng.randint(8, 15), [], []
    for _ in range(n):
        a = s.account(rng.choice((A13, A16)), t, True, device, ip)
        throwaways.append(a)
        ts = t + rng.randint(3, 20) * MINUTE_MS
        for m in rng.sample(pool, rng.randint(2, 5)):
            ts = s.chat(ts, a, m, rng.randint(1, 4), reply_p=0.3) + rng.randint(1, 15) * MINUTE_MS
            reached.append(m)
        s.emit(a.last_ms + rng.randint(20 * MINUTE_MS, 3 * HOUR_MS), DELETED, a)
        t += rng.randint(30, 90) * MINUTE_MS
    what = "device" if kind is SubjectKind.DEVICE else "IP"
    why = f"{what} made {n} anonymous 'teen' accounts that messaged minors and were deleted"
    return s.truth(kind, subject, reached, why, throwaways)


def _sextortion(s: _Scene) -> TruthEntry:
    """A new adult contact floods 3-5 children with messages and media within minutes."""
    t = s.slot()
    x = s.attacker(t, anonymous_p=0.6, recent_p=0.9)
    minors = s.minors(1, (1, 0, 0)) + s.minors(s.rng.randint(2, 4), (60, 40, 0))
    for m in minors:
        t = _escalate(s, x, m, t) + s.rng.randint(5, 40) * MINUTE_MS
    why = f"new contact escalated to media within minutes with {len(minors)} children"
    return s.truth(SubjectKind.ACCOUNT, x.account.id, minors, why)


def _blocks_reports(s: _Scene) -> TruthEntry:
    """Several minors block or report the same adult soon after it contacts them."""
    rng = s.rng
    t0 = s.slot()
    x = s.attacker(t0, anonymous_p=0.5, recent_p=0.5)
    minors = s.minors(rng.randint(8, 12))
    times = _spread(rng, len(minors), t0, rng.randint(2, 5) * HOUR_MS)
    _first_contacts(s, x, minors, times, reply_p=0.3)
    blockers = rng.sample(minors, rng.randint(5, 8))
    for m in blockers:
        ts = s.last_dm(x, m) + rng.randint(1, 60) * MINUTE_MS  # nothing reaches m after this
        r = rng.random()
        if r >= 0.6:
            s.emit(ts, EventType.REPORTED, m, x)
        if r < 0.6 or r >= 0.85:
            s.emit(ts + 30_000, EventType.BLOCKED, m, x)
    why = f"{len(blockers)} minors blocked or reported this adult within hours of contact"
    return s.truth(SubjectKind.ACCOUNT, x.account.id, minors, why)


def _ban_evasion(s: _Scene) -> TruthEntry:
    """A deleted account's device comes back as a new account to the same minors."""
    rng = s.rng
    t0 = s.slot()
    old = s.attacker(t0)
    minors = s.minors(rng.randint(6, 10))
    _first_contacts(s, old, minors, _spread(rng, len(minors), t0, 90 * MINUTE_MS), 0.3)
    deleted_ms = old.last_ms + rng.randint(20 * MINUTE_MS, 3 * HOUR_MS)
    s.emit(deleted_ms, DELETED, old)
    ip = old.home_ip if rng.random() < 0.5 else None
    band = rng.choice((A21, UNK, A16))
    new = s.account(band, deleted_ms + rng.randint(20, 360) * MINUTE_MS, True, old.device, ip)
    again = rng.sample(minors, rng.randint(4, min(6, len(minors)))) + s.minors(rng.randint(0, 2))
    start = new.last_ms + rng.randint(5, 60) * MINUTE_MS
    _first_contacts(s, new, again, _spread(rng, len(again), start, 90 * MINUTE_MS), 0.2)
    why = f"new account on the device of deleted {old.account.id} went back to the same minors"
    return s.truth(SubjectKind.ACCOUNT, new.account.id, again, why, [old])


def _combined_attacker(s: _Scene) -> TruthEntry:
    """One throwaway account doing burst, mass add and escalation: should reach CRITICAL."""
    rng = s.rng
    t0 = s.slot()
    x = s.account(UNK, t0 - rng.randint(30 * MINUTE_MS, 6 * HOUR_MS), True)
    burst = s.minors(rng.randint(30, 45), (50, 40, 10))
    escalate = sorted(burst, key=lambda p: _ORDER[p.account.age_band])[:3]
    times = _spread(rng, len(burst), t0, 50 * MINUTE_MS)
    _first_contacts(s, x, burst, times, escalate=escalate)
    added = rng.sample(burst, rng.randint(10, 15)) + s.minors(rng.randint(10, 15))
    _mass_add(s, x, added, t0 + 20 * MINUTE_MS, rng.randint(3, 4))
    why = f"throwaway account contacted {len(burst)} minors, mass-added and escalated"
    return s.truth(SubjectKind.ACCOUNT, x.account.id, burst + added, why)


def _teacher_class_group(s: _Scene) -> TruthEntry:
    """Look-alike of mass add: one old verified adult, ONE group, one class, who answer back."""
    rng = s.rng
    t0 = s.slot()
    teacher = s.old_account(A21, t0)
    band = rng.choice((U13, A13))
    pupils = s.minors(rng.randint(25, 35), (1, 0, 0) if band is U13 else (0, 1, 0))
    gid = s.ids.new("g")
    s.emit(t0, JOIN, teacher, group=gid)
    for p in pupils:
        s.emit(t0 + MINUTE_MS + rng.randrange(24 * MINUTE_MS), GADD, teacher, p, group=gid)
    for i in range(3):
        s.emit(t0 + (26 + i * 5) * MINUTE_MS, MSG, teacher, group=gid, media=True if i else None)
    for p in pupils:
        for _ in range(rng.randint(1, 3) if rng.random() < 0.8 else 0):
            s.emit(t0 + rng.randint(30, 180) * MINUTE_MS, MSG, p, group=gid)
        if rng.random() < 0.15:
            s.chat(t0 + rng.randint(40, 200) * MINUTE_MS, p, teacher, rng.randint(2, 4), 0.9)
    why = f"teacher added a class of {len(pupils)} {band} pupils to one group; they answered"
    return s.truth(SubjectKind.ACCOUNT, teacher.account.id, pupils, why)


def _popular_teen_inbound(s: _Scene) -> TruthEntry:
    """Look-alike of a contact burst: many first contacts, but INBOUND to a teen."""
    rng = s.rng
    t0 = s.slot()
    teen = s.old_account(rng.choice((A13, A16)), t0)
    fans = s.people(rng.randint(40, 80), (A13, A16, A18, UNK), (45, 40, 10, 5))
    for f, t in zip(fans, _spread(rng, len(fans), t0, rng.randint(2, 4) * HOUR_MS), strict=True):
        if rng.random() < 0.3:
            s.emit(t - 5_000, ADD, f, teen)
        s.dm(t, f, teen)
        if rng.random() < 0.3:
            s.chat(t + rng.randint(MINUTE_MS, 30 * MINUTE_MS), teen, f, rng.randint(1, 4), 0.8)
    why = f"popular teen received {len(fans)} inbound first contacts and answered some"
    return s.truth(SubjectKind.ACCOUNT, teen.account.id, fans, why)


def _school_ip(s: _Scene) -> TruthEntry:
    """Look-alike of churn: many new accounts behind one IP, but real kids who stay and talk."""
    rng = s.rng
    t = s.slot()
    ip, band, gid = s.ids.new("ip"), rng.choice((U13, A13)), s.ids.new("g")
    kids = []
    for _ in range(rng.randint(20, 35)):
        t += rng.randint(MINUTE_MS, 6 * MINUTE_MS)
        kids.append(s.account(band, t, False, ip=ip))
    for k in kids:
        s.emit(t + rng.randint(MINUTE_MS, 20 * MINUTE_MS), JOIN, k, group=gid)
    for k in kids:
        for friend in rng.sample([c for c in kids if c is not k], rng.randint(1, 3)):
            ts = t + rng.randint(20, 200) * MINUTE_MS
            s.emit(ts, ADD, k, friend)
            s.emit(ts + rng.randint(MINUTE_MS, 10 * MINUTE_MS), ADD, friend, k)
            s.chat(ts + 11 * MINUTE_MS, k, friend, rng.randint(2, 8), 0.9)
    why = f"{len(kids)} pupils signed up from one school IP and talk to each other; none deleted"
    return s.truth(SubjectKind.IP, ip, kids, why)


def _family_device(s: _Scene) -> TruthEntry:
    """Look-alike of churn / ban evasion: a household's long-lived accounts on one tablet."""
    rng = s.rng
    device, home, start = s.ids.new("d"), s.ids.new("ip"), s.cfg.start_ms
    parents = [
        s.account(A21, start - rng.randint(2, 8) * 365 * DAY_MS, False, device, home)
        for _ in range(2)
    ]
    kids = [
        s.account(
            rng.choice((U13, A13)), start - rng.randint(200, 900) * DAY_MS, False, device, home
        )
        for _ in range(rng.randint(1, 3))
    ]
    family = parents + kids
    s.talked_before.update(_pair(a, b) for a in family for b in family if a is not b)
    for _ in range(rng.randint(6, 14)):
        a, b = rng.sample(family, 2)
        ts = rng.randrange(start + 30 * MINUTE_MS, s.cfg.end_ms - HOUR_MS)
        s.chat(ts, a, b, rng.randint(2, 6), 0.9)
    why = f"{len(family)} long-lived family accounts share one device and talk to each other"
    return s.truth(SubjectKind.DEVICE, device, kids, why)


def _young_adult_friends(s: _Scene) -> TruthEntry:
    """Look-alike of adult-minor contact: an 18-20 year old and 16-17 friends from one group."""
    rng = s.rng
    t0 = s.slot()
    y = s.old_account(A18, t0)
    friends = s.people(rng.randint(6, 10), (A16,), (1,))
    new = friends[: rng.randint(1, 3)]
    s.talked_before.update(_pair(y, f) for f in friends[len(new) :])
    gid = s.ids.new("g")
    for f in new:
        s.emit(t0 + rng.randrange(30 * MINUTE_MS), JOIN, f, group=gid)
    for _ in range(rng.randint(4, 8)):  # group chats y takes part in
        ts = rng.randrange(t0 + 30 * MINUTE_MS, t0 + s.spec.length_ms - HOUR_MS)
        speakers = [y, *rng.sample(friends, rng.randint(1, 4))]
        rng.shuffle(speakers)
        for m in speakers:
            ts += rng.randint(10_000, 5 * MINUTE_MS)
            s.emit(ts, MSG, m, group=gid)
    for f in friends:
        ts = rng.randrange(t0 + HOUR_MS, t0 + s.spec.length_ms - HOUR_MS)
        s.chat(ts, y, f, rng.randint(3, 10), 0.9)
        s.emit(ts + rng.randint(10, 40) * MINUTE_MS, ADD, f, y)
    why = f"18-20 year old chats reciprocally with {len(friends)} 16-17 friends from one group"
    return s.truth(SubjectKind.ACCOUNT, y.account.id, friends, why)


def _adult_onboarding(s: _Scene) -> TruthEntry:
    """Look-alike of a contact burst: many first contacts, but all with adults, who reply."""
    rng = s.rng
    t0 = s.slot()
    o = s.old_account(A21, t0)
    team = s.people(rng.randint(30, 50), (A21, A18), (85, 15))
    gid = s.ids.new("g")
    s.emit(t0, JOIN, o, group=gid)
    for c, t in zip(team, _spread(rng, len(team), t0 + MINUTE_MS, 50 * MINUTE_MS), strict=True):
        s.emit(t, GADD, o, c, group=gid)
        s.emit(t + 10_000, ADD, o, c)
        s.chat(t + 20_000, o, c, rng.randint(1, 5), 0.75)
    why = f"adult onboarded {len(team)} adult colleagues: first contacts, all adults"
    return s.truth(SubjectKind.ACCOUNT, o.account.id, team, why)


@dataclass(frozen=True)
class _Spec:
    kind: Kind
    instances: int
    length_ms: int  # the longest event-time span one instance needs
    expected: tuple[str, ...]
    build: Callable[[_Scene], TruthEntry]


_SPECS: dict[str, _Spec] = {
    "fast_contact_burst": _Spec(
        "attack", 3, 2 * HOUR_MS, (NEW_CONTACT_BURST,), _fast_contact_burst
    ),
    "slow_contact_burst": _Spec(
        "attack", 2, 37 * HOUR_MS, (NEW_CONTACT_BURST,), _slow_contact_burst
    ),
    "mass_add": _Spec("attack", 3, 2 * HOUR_MS, (MINOR_MASS_ADD,), _mass_add_attack),
    "anonymous_churn": _Spec("attack", 2, 30 * HOUR_MS, (ANONYMOUS_CHURN,), _anonymous_churn),
    "sextortion": _Spec("attack", 3, 6 * HOUR_MS, (SEXTORTION_VELOCITY,), _sextortion),
    "blocks_reports": _Spec("attack", 2, 8 * HOUR_MS, (MINOR_BLOCKS_REPORTS,), _blocks_reports),
    "ban_evasion": _Spec("attack", 2, 16 * HOUR_MS, (BAN_EVASION,), _ban_evasion),
    "combined_attacker": _Spec(
        "attack",
        1,
        3 * HOUR_MS,
        (NEW_CONTACT_BURST, MINOR_MASS_ADD, SEXTORTION_VELOCITY),
        _combined_attacker,
    ),
    "teacher_class_group": _Spec("lookalike", 2, 5 * HOUR_MS, (), _teacher_class_group),
    "popular_teen_inbound": _Spec("lookalike", 2, 5 * HOUR_MS, (), _popular_teen_inbound),
    "school_ip": _Spec("lookalike", 1, 8 * HOUR_MS, (), _school_ip),
    "family_device": _Spec("lookalike", 2, 2 * HOUR_MS, (), _family_device),
    "young_adult_friends": _Spec("lookalike", 2, 12 * HOUR_MS, (), _young_adult_friends),
    "adult_onboarding": _Spec("lookalike", 2, 2 * HOUR_MS, (), _adult_onboarding),
}
assert tuple(_SPECS) == ALL_SCENARIOS


# --- the run ---------------------------------------------------------------------------------


class _Plan:
    """Population and scenarios up front (they are small); the background streams later."""

    def __init__(self, cfg: SimulationConfig) -> None:
        self.cfg = cfg
        self.ids = _Ids(random.Random(f"{cfg.seed}:ids"))
        hours = _busy_hours(cfg.start_ms, cfg.end_ms)
        users = cfg.normal_users
        if cfg.events_target is not None:
            users = max(300, round(cfg.events_target / (_EVENTS_PER_USER_HOUR * hours)))
        self.pop = _Population(cfg, users, random.Random(f"{cfg.seed}:population"), self.ids)
        self.truth: list[TruthEntry] = []
        self.scene_recs: list[_Rec] = []
        for name in cfg.scenarios:
            for i in range(_SPECS[name].instances):
                scene = _Scene(self, name, i)
                self.truth.append(_SPECS[name].build(scene))
                self.scene_recs.extend(scene.recs)
        self.scene_recs.sort(key=_ts)
        rate = _EVENTS_PER_USER_HOUR
        if cfg.events_target is not None:
            background = max(0.2 * cfg.events_target, cfg.events_target - len(self.scene_recs))
            rate *= background / (_EVENTS_PER_USER_HOUR * users * hours)
        self.background = _Background(cfg, self.pop, rate / _BACKGROUND_EVENTS_PER_ACTIVITY)

    def events(self) -> Iterator[Event]:
        """Ids are given in stream order, so (ts_ms, event_id) order is the stream order."""
        prefix, new = f"e-{self.cfg.seed}-", object.__new__
        set_id, set_type, set_ts, set_actor, set_target, *rest = _EVENT_SETTERS
        set_group, set_device, set_ip, set_first, set_media = rest
        n = 0
        for batch in self.background.hours(self.scene_recs):
            for ts, etype, actor, target, group, device, ip, first, media in batch:
                n += 1
                event = new(Event)
                set_id(event, prefix + str(n).zfill(9))
                set_type(event, etype)
                set_ts(event, ts)
                set_actor(event, actor)
                set_target(event, target)
                set_group(event, group)
                set_device(event, device)
                set_ip(event, ip)
                set_first(event, first)
                set_media(event, media)
                yield event


# Event is a frozen dataclass: its __init__ makes ten object.__setattr__ calls, which alone
# holds a run under ~300k events/s. Filling the slots through their descriptors is twice as
# fast and yields equal Events (tested); the field list is checked against the model here.
_EVENT_FIELDS = tuple(
    [
        "event_id",
        "type",
        "ts_ms",
        "actor",
        "target",
        "group_id",
        "device_hash",
        "ip_hash",
        "first_contact",
        "has_media",
    ]
)
assert tuple(f.name for f in fields(Event)) == _EVENT_FIELDS, "model.Event changed"
_EVENT_SETTERS: tuple[Callable[[Event, object], None], ...] = tuple(
    getattr(Event, name).__set__ for name in _EVENT_FIELDS
)
