"""The link graph: what it links, and a picture that keeps the telling nodes and fits."""

from __future__ import annotations

import re
from pathlib import Path

from streams.backtest import run_backtest
from streams.cases.graph import MAX_NODES, case_graph, drawn, layout, to_svg
from streams.cases.store import CaseStore
from streams.config import load_config
from streams.jsonl import event_to_json
from streams.model import Event
from tests.factories import MIN, T0, adult, message, minor


def _attack(children: int, attacker: str = "u-g") -> list[Event]:
    who = adult(attacker, anonymous=True)
    return [
        Event(**{**_fields(message(who, minor(f"m-{attacker}-{i}"), T0 + i * MIN,
                                   eid=f"{attacker}-{i}")),
                 "device_hash": "d-1", "ip_hash": f"ip-{i % 2}"})
        for i in range(children)
    ]  # fmt: skip


def _fields(e: Event) -> dict[str, object]:
    return {k: getattr(e, k) for k in e.__slots__}


def _store(tmp_path: Path, events: list[Event]) -> tuple[CaseStore, str]:
    store = CaseStore.open(tmp_path / "cases.db")
    alerts = run_backtest(events, load_config())
    for a in alerts:
        store.add_alert(a)
    store.add_events((e.event_id, e.ts_ms, event_to_json(e)) for e in events)
    return store, next(
        a.alert_id for a in alerts if a.detector == "minor_exposure" and a.subject.id == "u-g"
    )


def test_the_graph_links_devices_ips_minors_and_other_cases(tmp_path: Path) -> None:
    events = _attack(20)
    store, case_id = _store(tmp_path, events)
    graph = case_graph(store, case_id)
    kinds = {n: info["kind"] for n, info in graph.nodes.items()}
    assert kinds["ACCOUNT:u-g"] == "ACCOUNT" and graph.centre == "ACCOUNT:u-g"
    assert kinds["DEVICE:d-1"] == "DEVICE" and kinds["IP:ip-0"] == kinds["IP:ip-1"] == "IP"
    evidence = {e for r in store.revisions(case_id) for e in r["evidence_event_ids"]}
    reached = {f"ACCOUNT:{e.target.id}" for e in events if e.event_id in evidence and e.target}
    assert reached and all(kinds[n] == "MINOR" for n in reached)
    others = {n for n, k in kinds.items() if k == "CASE"}
    assert others  # new_contact_burst's case on the same account
    assert ("ACCOUNT:u-g", "DEVICE:d-1", "used") in graph.edges


def test_a_crowded_picture_keeps_the_rare_nodes_and_stays_on_the_canvas(tmp_path: Path) -> None:
    # Thirty attackers on one device: every other one's cases share it.
    events = _attack(20) + [e for n in range(30) for e in _attack(6, f"u-{n}")]
    store, case_id = _store(tmp_path, events)
    graph = case_graph(store, case_id)
    assert len(graph.nodes) > MAX_NODES
    shown = drawn(graph)
    assert len(shown) <= MAX_NODES - 1
    assert {"DEVICE:d-1", "IP:ip-0", "IP:ip-1"} <= set(shown)
    visible = set(shown) | {graph.centre}
    cases = [n for n in shown if n.startswith("CASE:")]
    assert cases  # the other attackers' cases, through the shared device
    for case in cases:  # each one drawn with what links it to this case
        assert any(case in (a, b) and {a, b} <= visible for a, b, _ in graph.edges)
    assert all(0 <= x <= 640 and 0 <= y <= 640 for x, y in layout(graph).values())
    svg = to_svg(graph)
    assert svg == to_svg(case_graph(store, case_id))  # deterministic
    assert len(re.findall(r'<g class="node"', svg)) == len(visible)
    assert f"+{len(graph.nodes) - len(visible)} more nodes" in svg
