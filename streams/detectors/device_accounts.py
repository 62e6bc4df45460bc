"""What a device (or IP) remembers of the accounts it carried: when each was created, the
minors it reached from there, and whether it was deleted. Shared by the detectors that look
at a device through its accounts (`anonymous_churn`, `ban_evasion`).

Accounts are kept oldest material change first (`state.touch`), so expiry pops from the front
and the cap evicts the stalest. An account deleted here is frozen: it reaches no new minor.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from streams.detectors.state import DictState, Row, touch
from streams.detectors.windows import drop_idle
from streams.model import Event

M = TypeVar("M")  # what is remembered of each minor reached


class CarriedAccount(Row, Generic[M]):
    """One account seen on the device. A detector stores the fields it uses (`Row.row`)."""

    __slots__ = ("anonymous", "created_ms", "deleted", "first_ms", "last_ms", "minors")
    anonymous: bool
    created_ms: int | None
    deleted: tuple[int, str] | None  # (event time, event id) of the deletion
    first_ms: int  # first seen on this device
    last_ms: int  # event time of the last material change (expiry order)
    minors: dict[str, M]  # minor -> what the detector keeps of its first contact here

    def __init__(self, now_ms: int = 0, created_ms: int | None = None, anonymous: bool = False):
        self.first_ms = now_ms
        self.last_ms = now_ms
        self.created_ms = created_ms
        self.anonymous = anonymous
        self.deleted = None
        self.minors = {}


A = TypeVar("A", bound=CarriedAccount[Any])


class DeviceAccounts(DictState, Generic[A]):
    """Per device (or IP): the accounts it carried, oldest material change first. A subclass
    names its account type (`new_account`) and how it is stored (`json_names`, and `accounts`
    annotated with the account type)."""

    __slots__ = ("accounts",)
    accounts: dict[str, A]

    def new_account(self, now_ms: int, created_ms: int | None, anonymous: bool) -> A:
        raise NotImplementedError

    def created(self, event: Event, max_accounts: int) -> bool:
        """An account created here: remembered from its creation (False: already known)."""
        actor = event.actor
        if actor.id in self.accounts:
            return False
        account = self.new_account(event.ts_ms, event.ts_ms, actor.anonymous)
        touch(self.accounts, actor.id, account, max_accounts)
        return True

    def reached(
        self,
        event: Event,
        minor: M,
        *,
        max_accounts: int,
        max_minors: int,
        admit: bool = True,
    ) -> A | None:
        """The account (`event.actor`) reached the minor `event.target` here, remembered as
        `minor`. None when nothing changed: the account is deleted, already reached that
        minor, or is at `max_minors`; or it is not known here and not `admit`ted."""
        actor, target = event.actor, event.target
        assert target is not None
        account = self.accounts.get(actor.id)
        if account is None:
            if not admit:
                return None
            account = self.new_account(event.ts_ms, actor.created_ts_ms, actor.anonymous)
        elif (
            account.deleted is not None
            or target.id in account.minors
            or len(account.minors) >= max_minors
        ):
            return None
        account.minors[target.id] = minor
        account.anonymous = account.anonymous or actor.anonymous
        if account.created_ms is None:
            account.created_ms = actor.created_ts_ms
        account.last_ms = event.ts_ms
        touch(self.accounts, actor.id, account, max_accounts)
        return account

    def mark_deleted(self, account: A, event: Event, max_accounts: int) -> None:
        """The account was deleted (`event`): kept, frozen, as of the deletion."""
        account.deleted = (event.ts_ms, event.event_id)
        account.last_ms = event.ts_ms
        touch(self.accounts, event.actor.id, account, max_accounts)

    def forget_idle(self, cutoff_ms: int) -> None:
        """Drop accounts whose last change is at or before `cutoff_ms`."""
        drop_idle(self.accounts, cutoff_ms)
