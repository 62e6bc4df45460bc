"""Attack scenarios and their look-alikes, each planted with its truth entry."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence

from streams.model import Account, AgeBand, EventType, SubjectKind
from streams.simulate.config import (
    A13,
    A16,
    A18,
    A21,
    ADD,
    CONTACT_TYPES,
    CREATED,
    DAY_MS,
    DELETED,
    GADD,
    HOUR_MS,
    JOIN,
    MINUTE_MS,
    MSG,
    SPECS,
    U13,
    UNK,
    SimulationConfig,
)
from streams.simulate.population import (
    BAND_ORDER,
    Emitter,
    Ids,
    Person,
    Population,
    pair_key,
    rec_ts,
)
from streams.simulate.truth import TruthEntry

# --- scenarios -------------------------------------------------------------------------------


class Scene(Emitter):
    """One scenario instance: its own random stream, records and conversation memory."""

    def __init__(
        self, cfg: SimulationConfig, pop: Population, ids: Ids, name: str, index: int
    ) -> None:
        super().__init__(random.Random(f"{cfg.seed}:{name}:{index}"), set())
        self.cfg, self.pop, self.ids = cfg, pop, ids
        self.name, self.index, self.spec = name, index, SPECS[name]
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
    ) -> Person:
        """A scenario-owned account; ACCOUNT_CREATED is emitted if it is born inside the run."""
        known = created_ms >= self.cfg.start_ms or self.rng.random() < 0.9
        account = Account(self.ids.new("u"), band, created_ms if known else None, anonymous)
        mobile = ip or self.rng.choice(self.pop.carrier_ips)
        p = Person(account, device or self.ids.new("d"), ip or self.ids.new("ip"), mobile)
        if created_ms >= self.cfg.start_ms:
            self.emit(created_ms, CREATED, p)
        return p

    def attacker(self, t0: int, anonymous_p: float = 0.7, recent_p: float = 0.7) -> Person:
        """Adult or unknown-age account, often anonymous, often created just before."""
        rng = self.rng
        band = rng.choice((A21, A21, UNK))
        recent = rng.random() < recent_p
        age = rng.randint(5 * MINUTE_MS, 2 * DAY_MS) if recent else rng.randint(20, 400) * DAY_MS
        return self.account(band, t0 - age, rng.random() < anonymous_p)

    def old_account(self, band: AgeBand, t0: int) -> Person:
        """Established, verified account (look-alike subjects)."""
        return self.account(band, t0 - self.rng.randint(300 * DAY_MS, 6 * 365 * DAY_MS), False)

    def people(self, n: int, bands: Sequence[AgeBand], weights: Sequence[int]) -> list[Person]:
        """n distinct background accounts of the given bands, reserved from deletion."""
        pools = {
            b: [p for p in self.pop.by_band[b] if p.account.id not in self.chosen] for b in bands
        }
        picked: list[Person] = []
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

    def minors(self, n: int, weights: Sequence[int] = (35, 45, 20)) -> list[Person]:
        return self.people(n, (U13, A13, A16), weights)

    def truth(
        self,
        kind: SubjectKind,
        subject: str,
        minors: Iterable[Person],
        why: str,
        controlled: Iterable[Person] = (),
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
            if rec[1] not in CONTACT_TYPES or target is None or not target.age_band.is_minor:
                continue
            if rec[2].id == subject if slot is None else rec[slot] == subject:
                return rec[0]
        return default

    def last_dm(self, a: Person, b: Person) -> int:
        """When a and b last messaged each other in this scene."""
        pair = {a.account, b.account}
        return max(r[0] for r in self.recs if r[1] is MSG and {r[2], r[3]} == pair)

    def dm(self, ts: int, a: Person, b: Person, media: bool = False) -> None:
        """A direct message; the platform shows the first-contact flag on about half of them."""
        shown = self.rng.random() < 0.5  # the value is set at the end, in time order
        self.emit(ts, MSG, a, b, first_contact=False if shown else None, media=media or None)

    def _first_contacts_in_time_order(self) -> None:
        """Scenes are written out of time order, so shown flags get their value in ts order."""
        self.recs.sort(key=rec_ts)
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
    s: Scene,
    x: Person,
    minors: Sequence[Person],
    times: Sequence[int],
    reply_p: float = 0.15,
    escalate: Sequence[Person] = (),
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


def _escalate(s: Scene, x: Person, m: Person, t: int) -> int:
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


def _mass_add(s: Scene, x: Person, minors: Sequence[Person], t0: int, n_groups: int) -> None:
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


def _fast_contact_burst(s: Scene) -> TruthEntry:
    """Dozens of never-contacted minors messaged within an hour (the police's core pattern)."""
    t0 = s.slot()
    x = s.attacker(t0)
    minors = s.minors(s.rng.randint(25, 60))
    _first_contacts(s, x, minors, _spread(s.rng, len(minors), t0, 55 * MINUTE_MS))
    why = f"{x.account.age_band} account first-contacted {len(minors)} minors within an hour"
    return s.truth(SubjectKind.ACCOUNT, x.account.id, minors, why)


def _slow_contact_burst(s: Scene) -> TruthEntry:
    """The same trawl kept below hourly thresholds: 15-30 minors over 24-36 h."""
    t0 = s.slot()
    x = s.attacker(t0, recent_p=0.4)
    minors = s.minors(s.rng.randint(15, 30))
    times = _spread(s.rng, len(minors), t0, s.rng.randint(28 * HOUR_MS, 36 * HOUR_MS))
    _first_contacts(s, x, minors, times)
    hours = (times[-1] - times[0]) // HOUR_MS  # >= 24: 28 h * 13/15 at the least
    why = f"account first-contacted {len(minors)} minors spread over {hours} h"
    return s.truth(SubjectKind.ACCOUNT, x.account.id, minors, why)


def _mass_add_attack(s: Scene) -> TruthEntry:
    """Minors of mixed ages bulk-added to several fresh groups by one adult."""
    t0 = s.slot()
    x = s.attacker(t0, anonymous_p=0.5)
    minors = s.minors(s.rng.randint(20, 40))
    n_groups = s.rng.randint(3, 5)
    _mass_add(s, x, minors, t0, n_groups)
    why = f"adult added {len(minors)} minors to {n_groups} new groups within an hour"
    return s.truth(SubjectKind.ACCOUNT, x.account.id, minors, why)


def _anonymous_churn(s: Scene) -> TruthEntry:
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


def _sextortion(s: Scene) -> TruthEntry:
    """A new adult contact floods 3-5 children with messages and media within minutes."""
    t = s.slot()
    x = s.attacker(t, anonymous_p=0.6, recent_p=0.9)
    minors = s.minors(1, (1, 0, 0)) + s.minors(s.rng.randint(2, 4), (60, 40, 0))
    for m in minors:
        t = _escalate(s, x, m, t) + s.rng.randint(5, 40) * MINUTE_MS
    why = f"new contact escalated to media within minutes with {len(minors)} children"
    return s.truth(SubjectKind.ACCOUNT, x.account.id, minors, why)


def _blocks_reports(s: Scene) -> TruthEntry:
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


def _ban_evasion(s: Scene) -> TruthEntry:
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


def _combined_attacker(s: Scene) -> TruthEntry:
    """One throwaway account doing burst, mass add and escalation: should reach CRITICAL."""
    rng = s.rng
    t0 = s.slot()
    x = s.account(UNK, t0 - rng.randint(30 * MINUTE_MS, 6 * HOUR_MS), True)
    burst = s.minors(rng.randint(30, 45), (50, 40, 10))
    escalate = sorted(burst, key=lambda p: BAND_ORDER[p.account.age_band])[:3]
    times = _spread(rng, len(burst), t0, 50 * MINUTE_MS)
    _first_contacts(s, x, burst, times, escalate=escalate)
    added = rng.sample(burst, rng.randint(10, 15)) + s.minors(rng.randint(10, 15))
    _mass_add(s, x, added, t0 + 20 * MINUTE_MS, rng.randint(3, 4))
    why = f"throwaway account contacted {len(burst)} minors, mass-added and escalated"
    return s.truth(SubjectKind.ACCOUNT, x.account.id, burst + added, why)


def _bait_extortion(s: Scene) -> TruthEntry:
    """A lure makes 3-6 children write to it first; within the hour it has images from most of
    them, then threatens, and they block or report it (threat model B19)."""
    rng = s.rng
    t = s.slot()
    x = s.attacker(t, anonymous_p=0.6, recent_p=0.7)
    minors = s.minors(rng.randint(3, 6), (20, 50, 30))
    for i, m in enumerate(minors):
        s.dm(t, m, x)  # the lure worked: the child writes first
        ts = t + rng.randint(1, 5) * MINUTE_MS
        for _ in range(rng.randint(2, 4)):
            s.dm(ts, x, m, media=rng.random() < 0.2)
            ts += rng.randint(20_000, 3 * MINUTE_MS)
        if i < 2 or rng.random() < 0.6:
            ts += rng.randint(2, 15) * MINUTE_MS
            s.dm(ts, m, x, media=True)
            pushed = ts + rng.randint(20, 300) * MINUTE_MS
            s.emit(pushed, EventType.BLOCKED, m, x)
            if rng.random() < 0.5:
                s.emit(pushed + 30_000, EventType.REPORTED, m, x)
        t += rng.randint(20, 120) * MINUTE_MS
    why = f"{len(minors)} children wrote first, sent images within the hour, then pushed it away"
    return s.truth(SubjectKind.ACCOUNT, x.account.id, minors, why)


def _teacher_class_group(s: Scene) -> TruthEntry:
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


def _popular_teen_inbound(s: Scene) -> TruthEntry:
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


def _school_ip(s: Scene) -> TruthEntry:
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


def _family_device(s: Scene) -> TruthEntry:
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
    s.talked_before.update(pair_key(a, b) for a in family for b in family if a is not b)
    for _ in range(rng.randint(6, 14)):
        a, b = rng.sample(family, 2)
        ts = rng.randrange(start + 30 * MINUTE_MS, s.cfg.end_ms - HOUR_MS)
        s.chat(ts, a, b, rng.randint(2, 6), 0.9)
    why = f"{len(family)} long-lived family accounts share one device and talk to each other"
    return s.truth(SubjectKind.DEVICE, device, kids, why)


def _young_adult_friends(s: Scene) -> TruthEntry:
    """Look-alike of adult-minor contact: an 18-20 year old and 16-17 friends from one group."""
    rng = s.rng
    t0 = s.slot()
    y = s.old_account(A18, t0)
    friends = s.people(rng.randint(6, 10), (A16,), (1,))
    new = friends[: rng.randint(1, 3)]
    s.talked_before.update(pair_key(y, f) for f in friends[len(new) :])
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


def _adult_onboarding(s: Scene) -> TruthEntry:
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


BUILDERS: dict[str, Callable[[Scene], TruthEntry]] = {
    "fast_contact_burst": _fast_contact_burst,
    "slow_contact_burst": _slow_contact_burst,
    "mass_add": _mass_add_attack,
    "anonymous_churn": _anonymous_churn,
    "sextortion": _sextortion,
    "blocks_reports": _blocks_reports,
    "ban_evasion": _ban_evasion,
    "combined_attacker": _combined_attacker,
    "bait_extortion": _bait_extortion,
    "teacher_class_group": _teacher_class_group,
    "popular_teen_inbound": _popular_teen_inbound,
    "school_ip": _school_ip,
    "family_device": _family_device,
    "young_adult_friends": _young_adult_friends,
    "adult_onboarding": _adult_onboarding,
}
assert tuple(BUILDERS) == tuple(SPECS)
