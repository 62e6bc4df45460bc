"""anonymous_churn: one device or IP behind a ring of throwaway accounts used on minors.

The pattern: an account is made (often anonymous, often declaring a teen age), messages or adds
a few children, and is deleted within hours, or simply abandoned; then the next one, from the
same device or the same line, often going back to the same children. No single account looks
like much; the device or IP behind them does.

Two paths, one case per device or IP (an IP's live ring: per account, below):
- **Churn**: throwaways deleted within the window (below).
- **Live ring**, without waiting for any deletion: `ring_high` or more ring accounts on one
  device, each having reached at least `ring_min_minors` distinct minors, together at least
  `ring_min_distinct` minors. A ring account is new (created within `max_lifetime_ms`) or
  anonymous and already deleted: unverified teens are common, so an old anonymous account
  that lives on is a sibling on the family tablet, not a throwaway. On an IP, which a school
  or a carrier's NAT shares among many unrelated people, only ring accounts that are also
  anonymous make the ring (its count, its victims, its list), and without shared victims
  (minors reached by two of its accounts: at least `ring_ip_shared` and
  `ring_ip_shared_fraction` of all its minors) it stays at MEDIUM: a carrier line carries
  new accounts making friends (a friend in common here and there), not new accounts going
  back to each other's children. A ring found on an IP is about an account
  (`Finding.subject`), not the line: the earliest-made ring account with a victim in common
  with another. A carrier's line carries several rings and bystanders at once, and nobody
  can act on the line; the alert lists the ring's accounts.

A *throwaway* is an account that, seen through this device or IP, contacted at least
`min_minors_per_account` distinct minors (direct message, contact add or group add), and was
then deleted, and was anonymous or lived at most `max_lifetime_ms` from creation to deletion.
Throwaways deleted within the window are counted; the alert lists them as counterparts.

Windows: an IP remembers an account for `window_ms` (24 h) after its last change, a device for
`device_window_ms` (72 h). A ring rotating among a few phones of its own comes back to each of
them over two or three days, one account at a time; a phone is not shared by strangers, so
remembering longer there links accounts that a day would split. A line is shared (a school,
a carrier's NAT): a day of it is already a crowd.

The actor's own declared age band is ignored: the attackers here pose as teens, so "used on
minors" means reaching declared minors whatever the actor claims to be.

Subjects: churn is seen on devices (one phone, fresh accounts) and on IPs (one home line or
VPN exit, fresh device ids each time), and both must be caught, so `subject_keys()` returns both
the DEVICE and the IP of an event; each keeps its own state, and its alerts and cases are about
that device or that IP (but an IP's live ring: about its first linked account, above).
Shared IPs (schools, carrier NAT) do not trigger by themselves: their many new accounts are
neither deleted nor, mostly, anonymous.

Treatment of missing data (the contract leaves these open):
- `UNKNOWN` age on a target does not count as a minor; the actor's band is not used at all.
- No `device_hash` / no `ip_hash`: the event reaches only the subject it names (or none).
- `anonymous` absent means false (the contract's default).
- `created_ts` absent: the `ACCOUNT_CREATED` event's time is used when this device or IP saw
  it; otherwise the lifetime is unknown and only anonymity can make the account a throwaway.
- Accounts neither anonymous nor known to be recently created are not remembered at all, so
  a family's long-lived accounts cost no state.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import chain
from typing import ClassVar

from streams.detectors.contacts import (
    ACCOUNT_CREATED,
    ACCOUNT_DELETED,
    CONTACT_TYPES,
    LIFECYCLE_TYPES,
    reaches_minor,
)
from streams.detectors.contract import (
    CHANGED,
    UNCHANGED,
    DetectorBase,
    Finding,
    Outcome,
    severity_for,
)
from streams.detectors.device_accounts import CarriedAccount, DeviceAccounts
from streams.detectors.subjects import device_key, ip_key
from streams.detectors.windows import DAY_MS, HOUR_MS
from streams.detectors.wording import capped
from streams.model import Event, EventType, Severity, Subject, SubjectKind


@dataclass(frozen=True, slots=True)
class AnonymousChurnConfig:
    window_ms: int = DAY_MS
    device_window_ms: int = 3 * DAY_MS
    max_lifetime_ms: int = 3 * DAY_MS
    min_minors_per_account: int = 1
    medium: int = 3
    high: int = 5
    critical_factor: float = 3.0
    max_accounts: int = 64
    max_minors_per_account: int = 16
    ring_min_minors: int = 2
    ring_medium: int = 2
    ring_high: int = 3
    ring_min_distinct: int = 6
    ring_ip_shared: int = 2
    ring_ip_shared_fraction: float = 0.25
    evidence_cap: int = 50


class ChurnAccount(CarriedAccount[str]):
    """What one device or IP remembers of one account it carried (minor -> event id of its
    first contact here)."""

    __slots__ = ()
    row: ClassVar = ("last_ms", "created_ms", "anonymous", "deleted", "minors")
    minors: dict[str, str]


class ChurnState(DeviceAccounts[ChurnAccount]):
    """Per device (or IP): candidate accounts, oldest material change first."""

    __slots__ = ()
    json_names: ClassVar = {"accounts": "a"}
    accounts: dict[str, ChurnAccount]

    def new_account(self, now_ms: int, created_ms: int | None, anonymous: bool) -> ChurnAccount:
        return ChurnAccount(now_ms, created_ms, anonymous)


class AnonymousChurnDetector(DetectorBase[AnonymousChurnConfig, ChurnState]):
    name: ClassVar[str] = "anonymous_churn"
    version: ClassVar[str] = "2.1.0"
    counterpart_role: ClassVar[str] = "deleted_account"
    event_types: ClassVar[frozenset[EventType]] = CONTACT_TYPES | LIFECYCLE_TYPES
    minor_targets_only: ClassVar[frozenset[EventType]] = CONTACT_TYPES

    def subject_keys(self, event: Event) -> Iterable[str]:
        if event.type not in LIFECYCLE_TYPES and not reaches_minor(event):
            return ()
        out: list[str] = []
        if event.device_hash:
            out.append(device_key(event.device_hash))
        if event.ip_hash:
            out.append(ip_key(event.ip_hash))
        return out

    def horizon_ms(self) -> int:
        return max(self.config.window_ms, self.config.device_window_ms)

    def _window(self, subject: Subject) -> int:
        """How long this subject remembers an account after its last change: longer on a
        device (a few phones of one ring, over days) than on an IP (a line strangers share)."""
        cfg = self.config
        return cfg.window_ms if subject.kind is SubjectKind.IP else cfg.device_window_ms

    def step(self, state: ChurnState, subject: Subject, event: Event) -> Outcome:
        if event.ts_ms >= state.due_ms:  # before then no account falls out of the window
            window = self._window(subject)
            state.forget_idle(event.ts_ms - window)
            state.due_ms = _due(state, event.ts_ms, window)
        cfg = self.config
        actor = event.actor
        if event.type is ACCOUNT_CREATED:
            return CHANGED if state.created(event, cfg.max_accounts) else UNCHANGED
        if event.type is ACCOUNT_DELETED:
            return self._deleted(state, subject, event)
        if event.target is None:  # routing let only contacts with a minor through
            return UNCHANGED
        created = actor.created_ts_ms
        recent = created is not None and event.ts_ms - created <= cfg.max_lifetime_ms
        account = state.reached(
            event,
            event.event_id,
            max_accounts=cfg.max_accounts,
            max_minors=cfg.max_minors_per_account,
            admit=actor.anonymous or recent,  # a family's long-lived accounts cost no state
        )
        if account is None:
            return UNCHANGED
        if len(account.minors) < cfg.ring_min_minors:
            return Outcome(changed=True)
        return Outcome(changed=True, finding=self._assess(state, subject, event))

    def _deleted(self, state: ChurnState, subject: Subject, event: Event) -> Outcome:
        cfg = self.config
        actor = event.actor
        account = state.accounts.get(actor.id)
        if account is None or account.deleted is not None:
            return UNCHANGED
        created = account.created_ms if account.created_ms is not None else actor.created_ts_ms
        short_lived = created is not None and event.ts_ms - created <= cfg.max_lifetime_ms
        throwaway = len(account.minors) >= cfg.min_minors_per_account and (
            account.anonymous or actor.anonymous or short_lived
        )
        if not throwaway:
            del state.accounts[actor.id]  # gone, and it can never count
            return Outcome(changed=True)
        account.anonymous = account.anonymous or actor.anonymous
        account.created_ms = created
        state.mark_deleted(account, event, cfg.max_accounts)
        return Outcome(changed=True, finding=self._assess(state, subject, event))

    def _new(self, account: ChurnAccount, now_ms: int) -> bool:
        created = account.created_ms
        return created is not None and now_ms - created <= self.config.max_lifetime_ms

    def _ring(
        self, state: ChurnState, subject: Subject, now: int
    ) -> tuple[Severity | None, list[tuple[str, ChurnAccount]], set[str]]:
        """The live-ring path: its severity, its accounts and the victims they share."""
        cfg = self.config
        line = subject.kind is SubjectKind.IP
        ring = [
            (aid, a)
            for aid, a in state.accounts.items()
            if len(a.minors) >= cfg.ring_min_minors
            and (self._new(a, now) or (a.anonymous and a.deleted is not None))
            and (a.anonymous or not line)  # a shared line: only anonymous accounts are its ring
        ]
        seen: set[str] = set()
        shared: set[str] = set()
        for _, account in ring:
            for minor in account.minors:
                (shared if minor in seen else seen).add(minor)
        if len(seen) < cfg.ring_min_distinct:
            return None, ring, shared
        severity = severity_for(len(ring), cfg.ring_medium, cfg.ring_high, cfg.critical_factor)
        # A shared line without victims its ring accounts share stays at MEDIUM.
        enough = len(shared) >= max(cfg.ring_ip_shared, cfg.ring_ip_shared_fraction * len(seen))
        if line and severity is not None and severity.rank > Severity.MEDIUM.rank and not enough:
            severity = Severity.MEDIUM
        return severity, ring, shared

    def _assess(self, state: ChurnState, subject: Subject, event: Event) -> Finding | None:
        cfg = self.config
        now = event.ts_ms
        window = self._window(subject)
        gone = [(aid, a) for aid, a in state.accounts.items() if a.deleted is not None]
        count = len(gone)
        severity = severity_for(count, cfg.medium, cfg.high, cfg.critical_factor)
        ring_severity, ring, shared = self._ring(state, subject, now)
        if ring_severity is not None and (severity is None or ring_severity.rank > severity.rank):
            return self._ring_finding(subject, event, ring_severity, ring, shared)
        if severity is None:
            return None
        minors: set[str] = set()
        deletions: list[str] = []
        lifetimes: list[float] = []
        for _, account in gone:
            minors.update(account.minors)
            assert account.deleted is not None
            deletions.append(account.deleted[1])
            if account.created_ms is not None:
                lifetimes.append((account.deleted[0] - account.created_ms) / HOUR_MS)
        contacts = (eid for _, account in gone for eid in account.minors.values())
        anonymous = sum(1 for _, a in gone if a.anonymous)
        where = "IP address" if subject.kind is SubjectKind.IP else "Device"
        features = {
            "throwaway_accounts_deleted": float(count),
            "anonymous_accounts": float(anonymous),
            "distinct_minors_reached": float(len(minors)),
            "threshold_medium": float(cfg.medium),
            "threshold_high": float(cfg.high),
            "window_hours": window / HOUR_MS,
            "max_lifetime_hours": cfg.max_lifetime_ms / HOUR_MS,
        }
        if lifetimes:
            features["median_account_lifetime_hours"] = round(
                sorted(lifetimes)[len(lifetimes) // 2], 3
            )
        reason = (
            f"{where} {subject.id} had {count} anonymous or short-lived accounts that contacted "
            f"{len(minors)} minors and were deleted within {window // HOUR_MS} h "
            f"(high at {cfg.high})."
        )
        return Finding(
            severity=severity,
            score=round(min(1.0, count / (2 * cfg.high) + 0.02 * len(minors)), 4),
            window_start_ms=now - window + 1,
            window_end_ms=now,
            features=features,
            counterparts=capped((aid for aid, _ in gone), cfg.evidence_cap),
            minors_exposed=len(minors),
            evidence_event_ids=capped(chain(deletions, contacts), cfg.evidence_cap),
            reason=reason,
            magnitude=float(count),
        )

    def _ring_finding(
        self,
        subject: Subject,
        event: Event,
        severity: Severity,
        ring: list[tuple[str, ChurnAccount]],
        shared: set[str],
    ) -> Finding:
        cfg = self.config
        now = event.ts_ms
        window = self._window(subject)
        minors = {m for _, a in ring for m in a.minors}
        anonymous = sum(1 for _, a in ring if a.anonymous)
        deleted = sum(1 for _, a in ring if a.deleted is not None)
        where = "IP address" if subject.kind is SubjectKind.IP else "Device"
        features = {
            "ring_accounts": float(len(ring)),
            "anonymous_accounts": float(anonymous),
            "deleted_accounts": float(deleted),
            "distinct_minors_reached": float(len(minors)),
            "shared_victims": float(len(shared)),
            "threshold_ring_high": float(cfg.ring_high),
            "threshold_ring_min_minors": float(cfg.ring_min_minors),
            "threshold_ring_min_distinct": float(cfg.ring_min_distinct),
            "window_hours": window / HOUR_MS,
        }
        reason = (
            f"{where} {subject.id} carries {len(ring)} anonymous or new accounts that each "
            f"reached {cfg.ring_min_minors}+ minors, {len(minors)} minors in all, {len(shared)} of "
            f"them reached by more than one account, {deleted} account(s) already deleted "
            f"(high at {cfg.ring_high} accounts)."
        )
        contacts = (eid for _, account in ring for eid in account.minors.values())
        about = None
        if subject.kind is SubjectKind.IP:
            about = Subject(SubjectKind.ACCOUNT, _first_linked(ring, shared))
            reason = f"Account {about.id}, one of a ring on a shared line: {reason}"
        return Finding(
            severity=severity,
            score=round(min(1.0, len(ring) / (2 * cfg.ring_high) + 0.02 * len(minors)), 4),
            window_start_ms=now - window + 1,
            window_end_ms=now,
            features=features,
            counterparts=capped((aid for aid, _ in ring), cfg.evidence_cap),
            minors_exposed=len(minors),
            evidence_event_ids=capped(contacts, cfg.evidence_cap),
            reason=reason,
            magnitude=float(len(ring)),
            subject=about,
            roles={aid: "ring_account" for aid, _ in ring},
        )

    def expire(self, state: ChurnState, now_ms: int) -> bool:
        """Drops only what no subject keeps (the longer window); each step first forgets
        what its own subject's window lets go, whenever something is due (`_due`), so results
        never depend on when cleanup ran."""
        state.forget_idle(now_ms - self.horizon_ms())
        return not state.accounts


def _due(state: ChurnState, now_ms: int, window_ms: int) -> int:
    """The earliest event time at which a step drops an account: `window_ms` after the
    oldest one's last change (the front), or after `now_ms` for one a later event adds."""
    accounts = state.accounts
    oldest = accounts[next(iter(accounts))].last_ms if accounts else now_ms
    return oldest + window_ms


def _first_linked(ring: list[tuple[str, ChurnAccount]], shared: set[str]) -> str:
    """The account an IP's ring alert is about: a line is shared by strangers (a carrier's NAT
    carries several rings at once), its accounts are not. The earliest-made ring account with
    a victim in common with another (one exists wherever the line reaches HIGH), else the
    earliest-made; ties, and accounts of unknown age last, by id."""
    linked = [(aid, a) for aid, a in ring if not shared.isdisjoint(a.minors)] or ring
    return min(linked, key=lambda r: (r[1].created_ms is None, r[1].created_ms or 0, r[0]))[0]
