"""ban_evasion: a new account on a device goes back to the minors a deleted account had reached.

When an account that was contacting children disappears, and a fresh account on the same
device starts contacting the same children, it is very likely the same person back under a
new name. The state is keyed by the device; the finding is about the new account
(`Finding.subject` of kind ACCOUNT), so the case and the alert follow that account.

The device remembers, for `memory_ms`, each account's distinct minors contacted (direct
message, contact add or group add; each minor for `memory_ms` after its first contact here,
or until the deletion is forgotten) and its deletion. An account is *new* relative to a deleted
one when it was created no earlier than `new_account_grace_ms` before that deletion (a
replacement made just before quitting counts), or, without `created_ts`, when this device
first saw it after the deletion. When a new account has reached at least `medium` / `high`
of the same minors as the deleted accounts it is new relative to, that is a finding.

Only deletion is used: a detector cannot see alerts or moderator bans, so an account that was
merely alerted on, or banned without an `ACCOUNT_DELETED` event, is a known blind spot.

Treatment of missing data (the contract leaves these open):
- Age bands: `UNKNOWN` targets do not count as minors. When the new account and every deleted
  account it matches declare a minor band, the finding is held at MEDIUM: a child deleting an
  account and re-registering on a shared family device goes back to its friends the same way,
  and only the account's own state shows whether those chats are peer-like (replies both
  ways, the friends writing first); `minor_exposure` judges it there. An account that changed
  its claim (an adult back as a teen) is not held.
- No `device_hash`: the event is not seen (the device is the only link between the accounts).
- `created_ts` absent: the `ACCOUNT_CREATED` event's time when this device saw it, else
  "first seen on this device after the deletion" decides newness. A long-lived account whose
  memory here expired and that comes back after a sibling's deletion can therefore look new.
- `anonymous` is not used for the decision (only in the reason and score).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
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
from streams.detectors.subjects import device_key
from streams.detectors.windows import DAY_MS, HOUR_MS, drop_before
from streams.detectors.wording import capped, describe_age
from streams.model import MINOR_BANDS, Event, EventType, Severity, Subject, SubjectKind


@dataclass(frozen=True, slots=True)
class BanEvasionConfig:
    memory_ms: int = 14 * DAY_MS
    new_account_grace_ms: int = DAY_MS
    medium: int = 2
    high: int = 3
    critical_factor: float = 3.0
    max_accounts: int = 32
    max_minors_per_account: int = 32
    evidence_cap: int = 50


class EvasionAccount(CarriedAccount[tuple[int, str]]):
    """What one device remembers of one account used on it (minor -> (first contact here,
    event id))."""

    __slots__ = ()
    row: ClassVar = ("first_ms", "last_ms", "created_ms", "deleted", "minors")
    minors: dict[str, tuple[int, str]]


class EvasionState(DeviceAccounts[EvasionAccount]):
    """Per device: accounts, oldest material change first, and which deleted ones declared a
    minor age band when they were deleted (a child re-registering declares its band again)."""

    __slots__ = ("minor_claims",)
    json_names: ClassVar = {"accounts": "a", "minor_claims": "m"}  # "m": since 1.1.0
    accounts: dict[str, EvasionAccount]
    minor_claims: set[str]

    def new_account(self, now_ms: int, created_ms: int | None, anonymous: bool) -> EvasionAccount:
        return EvasionAccount(now_ms, created_ms, anonymous)


class BanEvasionDetector(DetectorBase[BanEvasionConfig, EvasionState]):
    name: ClassVar[str] = "ban_evasion"
    version: ClassVar[str] = "1.1.0"
    counterpart_role: ClassVar[str] = "minor_contacted"
    event_types: ClassVar[frozenset[EventType]] = CONTACT_TYPES | LIFECYCLE_TYPES
    minor_targets_only: ClassVar[frozenset[EventType]] = CONTACT_TYPES

    def subject_keys(self, event: Event) -> Iterable[str]:
        if not event.device_hash or not (event.type in LIFECYCLE_TYPES or reaches_minor(event)):
            return ()
        return (device_key(event.device_hash),)

    def horizon_ms(self) -> int:
        return self.config.memory_ms

    def step(self, state: EvasionState, subject: Subject, event: Event) -> Outcome:
        # Before `due_ms` nothing falls out of memory; while claims are held, every step
        # expires, so a claim whose account the cap evicted goes on the next step, as ever.
        if event.ts_ms >= state.due_ms or state.minor_claims:
            self.expire(state, event.ts_ms)
            state.due_ms = self._due(state, event.ts_ms)
        cfg = self.config
        actor = event.actor
        if event.type is ACCOUNT_CREATED:
            return CHANGED if state.created(event, cfg.max_accounts) else UNCHANGED
        if event.type is ACCOUNT_DELETED:
            account = state.accounts.get(actor.id)
            if account is None or account.deleted is not None:
                return UNCHANGED
            if not account.minors:
                del state.accounts[actor.id]  # reached no minor here: nothing to come back to
                return CHANGED
            if actor.age_band in MINOR_BANDS:
                state.minor_claims.add(actor.id)
            state.mark_deleted(account, event, cfg.max_accounts)
            return CHANGED
        if event.target is None:  # routing let only contacts with a minor through
            return UNCHANGED
        account = state.reached(
            event,
            (event.ts_ms, event.event_id),
            max_accounts=cfg.max_accounts,
            max_minors=cfg.max_minors_per_account,
        )
        if account is None:
            return UNCHANGED
        return Outcome(changed=True, finding=self._assess(state, subject.id, account, event))

    def _is_new(self, account: EvasionAccount, deleted_ms: int) -> bool:
        if account.created_ms is not None:
            return account.created_ms >= deleted_ms - self.config.new_account_grace_ms
        return account.first_ms > deleted_ms

    def _assess(
        self, state: EvasionState, device: str, account: EvasionAccount, event: Event
    ) -> Finding | None:
        cfg = self.config
        now = event.ts_ms
        target = event.target
        assert target is not None
        olds = [
            (aid, old)
            for aid, old in state.accounts.items()
            if old.deleted is not None
            and old is not account
            and self._is_new(account, old.deleted[0])
        ]
        if not any(target.id in old.minors for _, old in olds):
            return None  # this contact did not add to the overlap: nothing new to say
        firsts: dict[str, tuple[int, str]] = {}  # shared minor -> the deleted account's contact
        sources: list[tuple[str, EvasionAccount]] = []
        for aid, old in olds:
            common = account.minors.keys() & old.minors.keys()
            if common:
                sources.append((aid, old))
                for minor in common:
                    firsts.setdefault(minor, old.minors[minor])
        shared = {m: firsts[m] for m in account.minors if m in firsts}  # in contact order
        count = len(shared)
        severity = severity_for(count, cfg.medium, cfg.high, cfg.critical_factor)
        if severity is None:
            return None
        actor = event.actor
        peer_claim = actor.age_band in MINOR_BANDS and all(
            aid in state.minor_claims for aid, _ in sources
        )
        if peer_claim and severity.rank > Severity.MEDIUM.rank:
            # A child who deletes an account and re-registers on the family device, declaring
            # its own minor age again, goes back to the same friends. This device cannot see
            # who started those chats or whether they are answered; minor_exposure judges the
            # new account by that. An adult coming back as a teen changed its claim: HIGH.
            severity = Severity.MEDIUM
        last_deleted_ms = max(old.deleted[0] for _, old in sources if old.deleted)
        created = account.created_ms
        age_days = (now - created) / DAY_MS if created is not None else None
        features = {
            "shared_minors": float(count),
            "threshold_medium": float(cfg.medium),
            "threshold_high": float(cfg.high),
            "deleted_accounts_matched": float(len(sources)),
            "minors_contacted_by_new_account": float(len(account.minors)),
            "hours_since_deletion": round((now - last_deleted_ms) / HOUR_MS, 3),
            "new_account_anonymous": 1.0 if actor.anonymous else 0.0,
            "both_accounts_declare_minor": 1.0 if peer_claim else 0.0,
        }
        if created is not None:
            features["new_account_age_hours"] = round((now - created) / HOUR_MS, 3)
        evidence = [old.deleted[1] for _, old in sources if old.deleted]
        evidence += [eid for _, eid in shared.values()]
        evidence += [account.minors[m][1] for m in shared]
        who = describe_age(actor.age_band, actor.anonymous, age_days)
        named = ", ".join(aid for aid, _ in sources[:3]) + (
            " and others" if len(sources) > 3 else ""
        )
        plural = "s" if len(sources) > 1 else ""
        hours = (now - last_deleted_ms) / HOUR_MS
        reason = (
            f"{who[0].upper()}{who[1:]} on device {device} contacted {count} of the same minors "
            f"as account{plural} {named}, deleted there {hours:.0f} h earlier (high at {cfg.high}"
            f"{'; at most MEDIUM here for a declared minor' if peer_claim else ''})."
        )
        start = min(ts for ts, _ in shared.values())
        return Finding(
            severity=severity,
            score=round(min(1.0, count / (2 * cfg.high) + (0.1 if actor.anonymous else 0.0)), 4),
            window_start_ms=max(now - cfg.memory_ms + 1, start),
            window_end_ms=now,
            features=features,
            counterparts=capped([*shared, *(aid for aid, _ in sources)], cfg.evidence_cap),
            minors_exposed=len(account.minors),
            evidence_event_ids=capped(evidence, cfg.evidence_cap),
            reason=reason,
            magnitude=float(count),
            subject=Subject(SubjectKind.ACCOUNT, actor.id),
            roles={aid: "deleted_account" for aid, _ in sources},
        )

    def expire(self, state: EvasionState, now_ms: int) -> bool:
        """Also called before a step whenever it has something to drop (`_due`), so results
        never depend on when cleanup ran."""
        cutoff = now_ms - self.config.memory_ms
        state.forget_idle(cutoff)
        accounts = state.accounts
        # A live account's minors age out one by one (a deleted account's stay with it until
        # the deletion itself is forgotten): without this, an account that keeps reaching a new
        # minor every few days would keep every minor it ever reached, up to the cap.
        for account in accounts.values():
            if account.deleted is None:
                drop_before(account.minors, cutoff)
        state.minor_claims.intersection_update(accounts)
        return not accounts

    def _due(self, state: EvasionState, now_ms: int) -> int:
        """The earliest event time at which `expire` drops anything: `memory_ms` after the
        oldest account's last change or a live account's oldest minor, or after `now_ms` for
        what a later event adds."""
        oldest = now_ms
        for account in state.accounts.values():
            oldest = min(oldest, account.last_ms)
            if account.deleted is None and account.minors:
                oldest = min(oldest, next(iter(account.minors.values()))[0])
        return oldest + self.config.memory_ms
