"""Background accounts, households, groups and friendships, and how records are emitted."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from itertools import accumulate
from operator import itemgetter

from streams.model import Account, AgeBand, EventType
from streams.simulate.config import (
    A13,
    A16,
    A18,
    A21,
    DAY_MS,
    HOUR_MS,
    LIFECYCLE,
    MSG,
    STEADY_FRIENDS,
    STEADY_GROUPS,
    U13,
    UNK,
    SimulationConfig,
)

# --- population -------------------------------------------------------------------------

# One event before it gets its id: (ts_ms, type, actor, target, group_id, device, ip,
# first_contact, has_media). Sorts are stable and by ts_ms only, so ties keep the order in
# which they were generated and the run stays deterministic.
_Str = str | None
Rec = tuple[int, EventType, Account, Account | None, _Str, _Str, _Str, bool | None, bool | None]
rec_ts = itemgetter(0)

_BANDS = (U13, A13, A16, A18, A21, UNK)
_BAND_CUM = tuple(accumulate((12, 28, 22, 12, 18, 8)))
BAND_ORDER = {U13: 0, A13: 1, A16: 2, A18: 3, A21: 4}
# Activity by hour of day (UTC ~ UK): quiet at night, peaks after school.
_DIURNAL = (5, 3, 2, 2, 2, 2, 4, 6, 8, 8, 8, 9, 9, 9, 10, 11, 13, 14, 15, 16, 16, 14, 11, 8)


def busy_hours(start_ms: int, end_ms: int) -> float:
    """Hours in [start_ms, end_ms), each weighted by how busy that hour of the day is."""
    mean = sum(_DIURNAL) / 24
    return sum(
        _DIURNAL[t // HOUR_MS % 24] / mean * (min(t + HOUR_MS, end_ms) - t) / HOUR_MS
        for t in range(start_ms, end_ms, HOUR_MS)
    )


EVENTS_PER_USER_HOUR = 1.75  # background events per user and hour at scale 1


@dataclass(eq=False, slots=True)
class Person:
    """One account with the devices and IPs it uses; identity-hashed (eq=False)."""

    account: Account
    device: str
    home_ip: str
    mobile_ip: str
    groups: list[str] = field(default_factory=list)
    friends: list[Person] = field(default_factory=list)
    deleted: bool = False  # gone: deleted, or (steady runs) stopped coming back
    reserved: bool = False  # used by a scenario: background never deletes it
    last_ms: int = 0


class Ids:
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


def pair_key(a: Person, b: Person) -> tuple[str, str]:
    x, y = a.account.id, b.account.id
    return (x, y) if x < y else (y, x)


def random_band(rng: random.Random) -> AgeBand:
    r = rng.random() * _BAND_CUM[-1]
    return next(b for b, c in zip(_BANDS, _BAND_CUM, strict=True) if r < c)


class Population:
    """Background accounts, households, groups and pre-run friendships."""

    def __init__(self, cfg: SimulationConfig, n_users: int, rng: random.Random, ids: Ids):
        self.rng, self.ids = rng, ids
        self.steady = cfg.steady
        self.persons: list[Person] = []
        self.by_band: dict[AgeBand, list[Person]] = {b: [] for b in _BANDS}
        self.groups: dict[str, list[Person]] = {}
        self.groups_by_band: dict[AgeBand, list[str]] = {b: [] for b in _BANDS}
        self.talked: set[tuple[str, str]] = set()  # pairs that have ever exchanged a DM
        self.carrier_ips = [ids.new("ip") for _ in range(max(4, n_users // 60))]
        self.home_ips: list[str] = []
        for _ in range(max(10, round(cfg.groups * n_users / cfg.normal_users))):
            band = random_band(rng)
            gid = ids.new("g")
            self.groups[gid] = []
            self.groups_by_band[A21 if band is UNK else band].append(gid)
        while len(self.persons) < n_users:
            self._household(cfg.start_ms)
        for p in self.persons:
            self._befriend(p)
        self.tickets = [p for p in self.persons for _ in range(1 + int(rng.expovariate(0.5)))]

    def new_person(self, band: AgeBand, created_ms: int | None, anonymous: bool) -> Person:
        home = self.rng.choice(self.home_ips) if self.rng.random() < 0.3 else self.ids.new("ip")
        account = Account(self.ids.new("u"), band, created_ms, anonymous)
        return Person(account, self.ids.new("d"), home, self.rng.choice(self.carrier_ips))

    def join_some_groups(self, p: Person) -> list[str]:
        """1-3 groups; returns the ones newly joined."""
        return [g for _ in range(self.rng.randint(1, 3)) if (g := self.join_group(p))]

    def join_group(self, p: Person) -> str | None:
        """A group of p's band (sometimes an adjacent one; UNKNOWN: any); None if already in."""
        band = p.account.age_band
        if band is UNK or self.rng.random() < 0.2:
            order = BAND_ORDER.get(band, self.rng.randrange(5))
            band = _BANDS[min(4, max(0, order + self.rng.choice((-1, 1))))]
        gid = self.rng.choice(self.groups_by_band[band] or list(self.groups))
        if gid in p.groups:
            return None
        self.add_to_group(p, gid)
        return gid

    def add_to_group(self, p: Person, gid: str) -> None:
        """p joins gid (not yet a member); in a steady run p leaves its oldest group beyond
        STEADY_GROUPS."""
        p.groups.append(gid)
        self.groups[gid].append(p)
        if self.steady and len(p.groups) > STEADY_GROUPS:
            self.groups[p.groups.pop(0)].remove(p)

    def stranger(self, p: Person) -> Person:
        """Someone p may not know yet: mostly a group mate, else the same band, rarely anyone."""
        r = self.rng.random()
        if r < 0.7 and p.groups:
            return self.rng.choice(self.groups[self.rng.choice(p.groups)])
        pool = self.by_band[p.account.age_band] if r < 0.95 else self.persons
        return pool[int(self.rng.random() * len(pool))]

    def add(self, p: Person) -> None:
        self.persons.append(p)
        self.by_band[p.account.age_band].append(p)

    def remove(self, p: Person) -> None:
        """p leaves for good (steady runs): no longer picked, met, befriended or in a group."""
        self.persons.remove(p)
        self.by_band[p.account.age_band].remove(p)
        self.tickets = [q for q in self.tickets if q is not p]
        for gid in p.groups:
            self.groups[gid].remove(p)
        for q in p.friends:
            q.friends.remove(p)
        p.groups, p.friends = [], []

    def befriend(self, a: Person, b: Person) -> None:
        """In a steady run, a friendship beyond STEADY_FRIENDS on either side ends that
        side's oldest one (on both of its sides: they drifted apart)."""
        a.friends.append(b)
        b.friends.append(a)
        if self.steady:
            for p in (a, b):
                if len(p.friends) > STEADY_FRIENDS:
                    p.friends.pop(0).friends.remove(p)

    def _household(self, start_ms: int) -> None:
        rng = self.rng
        home = self.ids.new("ip")
        self.home_ips.append(home)
        device = None
        for _ in range(rng.choice((1, 1, 1, 2, 2, 3, 4))):
            band = random_band(rng)
            created = start_ms - rng.randint(DAY_MS, 5 * 365 * DAY_MS)
            anonymous = rng.random() < (0.3 if band is UNK else 0.1)
            account = Account(
                self.ids.new("u"), band, created if rng.random() < 0.88 else None, anonymous
            )
            if device is None or rng.random() > 0.2:
                device = self.ids.new("d")
            p = Person(account, device, home, rng.choice(self.carrier_ips))
            self.add(p)
            self.join_some_groups(p)

    def _befriend(self, p: Person) -> None:
        """Pre-run friendships (they talked before the run, so never a first contact)."""
        for _ in range(self.rng.randint(1, 4)):
            q = self.stranger(p)
            key = pair_key(p, q)
            if q is not p and key not in self.talked:
                self.talked.add(key)
                self.befriend(p, q)


# --- emitting records ----------------------------------------------------------------------


class Emitter:
    """Appends records; decides which device and IP each event carries."""

    def __init__(self, rng: random.Random, talked: set[tuple[str, str]]) -> None:
        self.rng, self.talked = rng, talked
        self.recs: list[Rec] = []

    def emit(
        self,
        ts: int,
        etype: EventType,
        actor: Person,
        target: Person | None = None,
        group: str | None = None,
        first_contact: bool | None = None,
        media: bool | None = None,
    ) -> None:
        device, ip = self.where(actor, etype in LIFECYCLE)
        tgt = None if target is None else target.account
        self.recs.append((ts, etype, actor.account, tgt, group, device, ip, first_contact, media))
        if ts > actor.last_ms:
            actor.last_ms = ts
        if target is not None and ts > target.last_ms:
            target.last_ms = ts

    def chat(self, ts: int, a: Person, b: Person, n: int, reply_p: float = 0.75) -> int:
        """n direct messages starting a -> b, turns mostly alternating; returns the next ts.

        Each side keeps one device and network for the whole exchange. This is the hot path
        of the background (~75% of events): one 32-bit draw per message, records inline.
        """
        bits, recs, last, turn = self.rng.getrandbits, self.recs, ts, int(reply_p * 256)
        key = pair_key(a, b)
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

    def where(self, p: Person, lifecycle: bool = False) -> tuple[str | None, str | None]:
        """The device and IP an event carries: most events have both; lifecycle events always."""
        r = self.rng.getrandbits(8)  # low 4 bits: device (1 in 16 without); high: ip
        device = p.device if lifecycle or r & 15 else None
        ip = p.home_ip if r < 160 else p.mobile_ip if r < 232 or lifecycle else None
        return device, ip
