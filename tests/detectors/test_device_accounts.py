"""The per-device memory of accounts shared by anonymous_churn and ban_evasion
(`streams/detectors/device_accounts.py`)."""

from __future__ import annotations

from streams.detectors.anonymous_churn import ChurnState
from streams.detectors.ban_evasion import EvasionState
from streams.model import Account, Event, EventType
from tests.factories import MIN, T0, adult, message, minor


def lifecycle(kind: EventType, actor: Account, ts: int, eid: str = "x") -> Event:
    return Event(event_id=eid, type=kind, ts_ms=ts, actor=actor)


def test_an_account_is_remembered_from_its_creation_once() -> None:
    state = EvasionState()
    made = lifecycle(EventType.ACCOUNT_CREATED, adult("u-1", anonymous=True), T0)
    assert state.created(made, max_accounts=4)
    assert not state.created(made, max_accounts=4)
    account = state.accounts["u-1"]
    assert (account.first_ms, account.created_ms, account.anonymous) == (T0, T0, True)


def test_minors_reached_once_up_to_the_cap_and_none_after_the_deletion() -> None:
    state = EvasionState()
    actor = adult("u-1")
    for i in range(3):
        got = state.reached(
            message(actor, minor(f"m-{i}"), T0 + i * MIN, eid=f"e-{i}"),
            (T0 + i * MIN, f"e-{i}"),
            max_accounts=4,
            max_minors=2,
        )
        assert (got is not None) == (i < 2)
    again = message(actor, minor("m-0"), T0 + 5 * MIN)
    assert state.reached(again, (0, ""), max_accounts=4, max_minors=9) is None
    account = state.accounts["u-1"]
    assert account.minors == {"m-0": (T0, "e-0"), "m-1": (T0 + MIN, "e-1")}
    gone = lifecycle(EventType.ACCOUNT_DELETED, actor, T0 + 9 * MIN, "d-1")
    state.mark_deleted(account, gone, max_accounts=4)
    assert (account.deleted, account.last_ms) == ((T0 + 9 * MIN, "d-1"), T0 + 9 * MIN)
    later = message(actor, minor("m-7"), T0 + 10 * MIN)
    assert state.reached(later, (0, ""), max_accounts=4, max_minors=9) is None


def test_an_unknown_account_not_admitted_is_not_remembered() -> None:
    state = ChurnState()
    contact = message(adult("u-1"), minor("m-1"), T0, eid="e-1")
    assert state.reached(contact, "e-1", max_accounts=4, max_minors=4, admit=False) is None
    assert state.accounts == {}
    assert state.reached(contact, "e-1", max_accounts=4, max_minors=4) is not None
    assert state.accounts["u-1"].minors == {"m-1": "e-1"}


def test_the_stalest_account_goes_first_by_cap_and_by_idleness() -> None:
    state = ChurnState()
    for i in range(4):
        contact = message(adult(f"u-{i}"), minor("m"), T0 + i * MIN)
        state.reached(contact, f"e-{i}", max_accounts=3, max_minors=4)
    assert list(state.accounts) == ["u-1", "u-2", "u-3"]  # u-0 evicted by the cap
    state.forget_idle(T0 + 2 * MIN)  # last changes at or before this go
    assert list(state.accounts) == ["u-3"]
