"""Accounts, shared infrastructure and the event recorder that every part of a seed writes to.

Events are recorded as plain tuples in any order and turned into `Event`s once, sorted by
time (`World.finish`). The platform's `first_contact` flag is decided then, in time order,
from the pairs that have talked before (friendships older than the stream are known up
front), for the events whose sender's client sets the flag at all.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

from streams.model import MINOR_BANDS, Account, AgeBand, Event, EventType

MINUTE_MS: Final = 60_000
HOUR_MS: Final = 60 * MINUTE_MS
DAY_MS: Final = 24 * HOUR_MS
START_MS: Final = int(datetime(2026, 11, 2, tzinfo=UTC).timestamp() * 1000)  # a Monday
SPAN_DAYS: Final = 16  # the slow patterns run up to 14 days, plus room before and after

# Relative activity per hour of day (UTC is local time here): a teen app is busiest after school.
_HOUR_WEIGHTS: Final = (1, 1, 0, 0, 0, 0, 1, 3, 3, 2, 2, 2, 3, 2, 3, 5, 6, 6, 6, 7, 8, 8, 6, 3)
_HOURS: Final = tuple(range(24))

# (ts, seq, type, actor, target, group, device, ip, client sets first_contact, has_media)
Rec = tuple[int, int, EventType, Account, Account | None, str | None, str, str, bool, bool | None]


@dataclass(slots=True)
class Person:
    """An account with where it usually is: own phone, home IP, school, carrier, family device."""

    account: Account
    device: str
    home_ip: str
    carrier_ip: str
    school: int | None = None
    family_device: str | None = None
    flags_first: bool = True  # this account's client sets `first_contact`
    friends: list[str] = field(default_factory=list)
    born_ms: int = 0  # first moment it may act (creation, or the stream start)
    gone_ms: int | None = None  # deleted at

    @property
    def id(self) -> str:
        return self.account.id

    @property
    def band(self) -> AgeBand:
        return self.account.age_band

    @property
    def is_minor(self) -> bool:
        return self.account.age_band in MINOR_BANDS

    def lifelong(self, start_ms: int) -> bool:
        """There from the stream's start (`start_ms`) and never deleted."""
        return self.born_ms <= start_ms and self.gone_ms is None

    def alive(self, ts_ms: int) -> bool:
        return self.born_ms <= ts_ms and (self.gone_ms is None or ts_ms < self.gone_ms)


@dataclass(slots=True)
class School:
    ip: str
    minors: list[str] = field(default_factory=list)


class World:
    """Everything one seed has: people, schools, carrier NAT addresses, recorded events."""

    def __init__(self, seed: int, start_ms: int = START_MS, days: int = SPAN_DAYS) -> None:
        self.seed = seed
        self.rng = random.Random(f"randbench:{seed}:world")
        self._ids = random.Random(f"randbench:{seed}:ids")
        self.start_ms = start_ms
        self.days = days
        self.end_ms = start_ms + days * DAY_MS
        self.people: dict[str, Person] = {}
        self.schools: list[School] = []
        self.carrier_ips: list[str] = []
        self.known_pairs: set[tuple[str, str]] = set()
        self.recs: list[Rec] = []
        self.background: list[str] = []  # accounts that belong to no instance
        self.stable_minors: list[str] = []  # background minors alive the whole span
        self.groups: dict[str, list[str]] = {}  # background group chats and their members
        self._seq = 0
        self._used: set[str] = set()

    # --- ids and accounts ------------------------------------------------------------------

    def new_id(self, prefix: str) -> str:
        """A pseudonymous id that says nothing about what it belongs to."""
        while True:
            candidate = f"{prefix}-{self._ids.getrandbits(44):011x}"
            if candidate not in self._used:
                self._used.add(candidate)
                return candidate

    def add_person(
        self,
        band: AgeBand,
        created_ms: int,
        *,
        anonymous: bool = False,
        device: str | None = None,
        home_ip: str | None = None,
        carrier_ip: str | None = None,
        flags_first: bool = True,
        announce: bool = True,
    ) -> Person:
        """A new account; an ACCOUNT_CREATED event when it is created inside the span."""
        account = Account(self.new_id("u"), band, created_ms, anonymous)
        person = Person(
            account=account,
            device=device or self.new_id("d"),
            home_ip=home_ip or self.new_id("ip"),
            carrier_ip=carrier_ip or self.rng.choice(self.carrier_ips),
            flags_first=flags_first,
            born_ms=max(created_ms, self.start_ms),
        )
        self.people[account.id] = person
        if announce and created_ms >= self.start_ms:
            self.emit(created_ms, EventType.ACCOUNT_CREATED, person)
        return person

    def know(self, a: str, b: str) -> None:
        """`a` and `b` talked before the stream started: never a first contact."""
        self.known_pairs.add((a, b) if a < b else (b, a))

    def parent_of(self, child: Person) -> Person | None:
        """A 21+ family member on the app (a friend sharing the child's home IP), if any."""
        for f in child.friends:
            p = self.people[f]
            if p.band is AgeBand.AGE_21_PLUS and p.home_ip == child.home_ip:
                return p
        return None

    # --- time and place --------------------------------------------------------------------

    def day_time(self, rng: random.Random, day: int) -> int:
        """A moment on `day` (0-based from the start), at a realistic hour."""
        hour = rng.choices(_HOURS, _HOUR_WEIGHTS)[0]
        return self.start_ms + day * DAY_MS + hour * HOUR_MS + rng.randrange(HOUR_MS)

    def place(self, rng: random.Random, person: Person, ts_ms: int) -> tuple[str, str]:
        """The device and IP `person` most plausibly uses at `ts_ms`."""
        device = person.device
        if person.family_device is not None and rng.random() < 0.2:
            device = person.family_device
        hour = ts_ms // HOUR_MS % 24
        weekday = (ts_ms - self.start_ms) // DAY_MS % 7 < 5
        roll = rng.random()
        if person.school is not None and weekday and 8 <= hour < 15 and roll < 0.75:
            return device, self.schools[person.school].ip
        if (hour >= 17 or hour < 8) and roll < 0.7:
            return device, person.home_ip
        return device, person.carrier_ip if roll < 0.8 else person.home_ip

    # --- recording -------------------------------------------------------------------------

    def emit(
        self,
        ts_ms: int,
        etype: EventType,
        actor: Person,
        target: Person | None = None,
        *,
        group: str | None = None,
        media: bool | None = None,
        device: str | None = None,
        ip: str | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if device is None or ip is None:
            where = self.place(rng or self.rng, actor, ts_ms)
            device = device or where[0]
            ip = ip or where[1]
        self._seq += 1
        self.recs.append(
            (
                ts_ms,
                self._seq,
                etype,
                actor.account,
                None if target is None else target.account,
                group,
                device,
                ip,
                actor.flags_first,
                media,
            )
        )

    def finish(self) -> list[Event]:
        """The recorded events in (ts, event_id) order, with `first_contact` decided.

        Whatever order the parts were generated in, no account acts or is reached before it
        was created or once it is deleted: such events (a reply planned to a friend who left
        later in generation) are dropped here."""
        self.recs.sort(key=lambda r: (r[0], r[1]))
        gone: dict[str, int] = {}
        for r in self.recs:
            if r[2] is EventType.ACCOUNT_DELETED:
                gone.setdefault(r[3].id, r[0])
        talked = set(self.known_pairs)
        flagged = (EventType.MESSAGE_SENT, EventType.CONTACT_ADDED)
        events: list[Event] = []
        prefix = f"r{self.seed}-"
        n = 0
        for ts, _seq, etype, actor, target, group, device, ip, flags, media in self.recs:
            if not (
                _exists(actor, ts, gone, etype) and (target is None or _exists(target, ts, gone))
            ):
                continue
            n += 1
            first: bool | None = None
            if target is not None and etype in flagged:
                a, b = actor.id, target.id
                pair = (a, b) if a < b else (b, a)
                is_new = pair not in talked
                talked.add(pair)
                first = is_new if flags else None
            events.append(
                Event(
                    event_id=prefix + str(n).zfill(8),
                    type=etype,
                    ts_ms=ts,
                    actor=actor,
                    target=target,
                    group_id=group,
                    device_hash=device,
                    ip_hash=ip,
                    first_contact=first,
                    has_media=media,
                )
            )
        return events


def _exists(
    account: Account, ts_ms: int, gone: dict[str, int], etype: EventType | None = None
) -> bool:
    """`account` exists at `ts_ms` (its own creation and deletion events count as its own)."""
    created = account.created_ts_ms
    if created is not None and ts_ms < created:
        return False
    deleted = gone.get(account.id)
    if deleted is None or ts_ms < deleted:
        return True
    return etype is EventType.ACCOUNT_DELETED and ts_ms == deleted
