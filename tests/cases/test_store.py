"""The case store: migrations once, every revision kept once, a case at its highest revision.

Each test runs on SQLite and on PostgreSQL (Debian's, a cluster of the test's own)."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.cases.migrations import LATEST
from streams.cases.store import CaseFilter, CaseStore, FeedItem
from streams.model import Action, Alert, Decision, Severity
from tests.cases.builders import attack_alerts
from tests.cases.postgres import new_database

ALERTS = attack_alerts() + attack_alerts("u-other", children=6)


Target = Callable[[], str]


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Target:
    """Makes a new, empty store location of the backend under test."""
    if request.param == "sqlite":
        names = iter(range(1000))
        return lambda: str(tmp_path / f"cases-{next(names)}.db")
    prefix: str = request.getfixturevalue("cluster")
    return lambda: new_database(prefix)


def _decision(alert: Alert, action: Action, n: int = 1) -> Decision:
    return Decision(
        f"d-{n}", alert.alert_id, alert.detector, alert.subject, action, alert.trigger_ts_ms, n
    )


def test_migrations_apply_once_and_survive_reopening(target: Target) -> None:
    db = target()
    store = CaseStore.open(db)
    assert store.schema_version() == LATEST
    assert store.migrate() == []  # nothing left to apply
    store.add_alert(ALERTS[0])
    store.close()
    again = CaseStore.open(db)
    assert again.migrate() == []
    assert again.counts()["alert_revisions"] == 1


def test_every_revision_once_and_the_case_at_its_highest(target: Target) -> None:
    store = CaseStore.open(target())
    assert sum(store.add_alert(a) for a in ALERTS + ALERTS) == len(ALERTS)
    # The oracle: how the alerts were built, one (alert_id, revision) each.
    highest: dict[str, Alert] = {}
    for a in ALERTS:
        if a.alert_id not in highest or a.revision > highest[a.alert_id].revision:
            highest[a.alert_id] = a
    assert store.counts()["cases"] == len(highest)
    for alert_id, a in highest.items():
        case = store.case(alert_id)
        assert case is not None
        assert (case["revision"], case["severity"], case["status"]) == (
            a.revision, a.severity.value, "open",
        )  # fmt: skip
        assert [r["revision"] for r in store.revisions(alert_id)] == list(range(1, a.revision + 1))


@settings(max_examples=25, deadline=None)
@given(st.randoms(use_true_random=False), st.integers(0, len(ALERTS)))
def test_any_order_and_any_replay_give_the_same_store(rnd: random.Random, replayed: int) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        reference = CaseStore.open(Path(tmp) / "a.db")
        for a in ALERTS:
            reference.add_alert(a)
        shuffled = ALERTS + ALERTS[:replayed]
        rnd.shuffle(shuffled)
        other = CaseStore.open(Path(tmp) / "b.db")
        for a in shuffled:
            other.add_alert(a)
        everything = CaseFilter(status="open", limit=1000)
        assert other.list_cases(everything) == reference.list_cases(everything)
        assert other.counts() == reference.counts()


def test_ranking_and_filters(target: Target) -> None:
    store = CaseStore.open(target())
    for a in ALERTS:
        store.add_alert(a)
    ranked = store.list_cases()
    keys = [(-_rank(c["severity"]), -c["score"], -c["minors_exposed"]) for c in ranked]
    assert keys == sorted(keys)
    detector = ALERTS[0].detector
    assert {c["detector"] for c in store.list_cases(CaseFilter(detector=detector))} == {detector}
    high = store.list_cases(CaseFilter(severity="HIGH"))
    assert high and all(c["severity"] == "HIGH" for c in high)
    assert store.list_cases(CaseFilter(subject_kind="DEVICE")) == []
    last = max(a.trigger_ts_ms for a in ALERTS)
    assert store.list_cases(CaseFilter(since_ms=last + 1)) == []


def _rank(severity: str) -> int:
    return Severity(severity).rank


def test_decisions_set_the_status_once_whatever_arrives_first(target: Target) -> None:
    store = CaseStore.open(target())
    first = ALERTS[0]
    assert store.add_decision(_decision(first, Action.CLEAR))  # before its case
    assert not store.add_decision(_decision(first, Action.CLEAR))
    store.add_alert(first)
    case = store.case(first.alert_id)
    assert case is not None and case["status"] == "cleared"
    assert first.alert_id not in {c["alert_id"] for c in store.list_cases()}
    assert store.add_decision(_decision(first, Action.ESCALATE, n=2))
    case = store.case(first.alert_id)
    assert case is not None and case["status"] == "escalated"
    assert [d["action"] for d in store.decisions(first.alert_id)] == ["CLEAR", "ESCALATE"]


def test_ingest_moves_offsets_with_the_rows(target: Target) -> None:
    store = CaseStore.open(target())
    items = [FeedItem("t", 0, i, a) for i, a in enumerate(ALERTS[:3])] + [FeedItem("t", 1, 7, None)]
    assert store.ingest(items) == 3
    assert store.offsets("t") == {0: 3, 1: 8}
    assert store.ingest(items) == 0


def test_cases_sharing_a_node(target: Target) -> None:
    store = CaseStore.open(target())
    for a in ALERTS:
        store.add_alert(a)
    # Two detectors on the same attacker share its subject node.
    mine = [a for a in ALERTS if a.subject.id == "u-attacker"]
    case_ids = {a.alert_id for a in mine}
    assert len(case_ids) >= 2
    one = mine[0].alert_id
    shared = store.sharing(["ACCOUNT:u-attacker"], exclude=one)
    assert {s[0] for s in shared} == case_ids - {one}


def test_events_are_kept_once_indexed_by_device_ip_and_group_and_forgotten_by_age(
    target: Target,
) -> None:
    store = CaseStore.open(target())
    docs = [
        ("e-1", 1_000, {"event_id": "e-1", "device_hash": "d-1", "ip_hash": "ip-1"}),
        ("e-2", 2_000, {"event_id": "e-2", "group_id": "g-1"}),
        ("e-3", 3_000, {"event_id": "e-3"}),
    ]
    assert store.add_events(docs) == 3
    assert store.add_events(docs) == 0
    assert store.counts()["event_nodes"] == 3  # DEVICE:d-1, IP:ip-1, GROUP:g-1
    assert [e["event_id"] for e in store.events(["e-3", "e-1", "e-9"])] == ["e-1", "e-3"]
    assert store.forget_events_before(2_500) == 2
    assert store.counts()["event_nodes"] == 0
    assert [e["event_id"] for e in store.events(["e-1", "e-2", "e-3"])] == ["e-3"]
