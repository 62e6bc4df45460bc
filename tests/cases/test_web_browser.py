"""The case view in a real headless browser (Debian's chromium): list the cases, open the top
one, see its link graph, clear it; the clear lands on the decisions topic and in the store.

Set GUARDLINE_SCREENSHOT=docs/img/case-page.png to regenerate the screenshot in docs/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from kafka import KafkaConsumer

from streams import topics
from streams.codec import decode_decision
from streams.model import Action, Alert, Decision
from tests.cases.browser import headless_chromium
from tests.cases.builders import attack_alerts
from tests.cases.serving import count, publish, serving
from tests.streaming import wait_for

pytestmark = [pytest.mark.broker, pytest.mark.slow]

ALERTS = attack_alerts() + attack_alerts("u-other", children=8)


def _final(alerts: list[Alert]) -> dict[str, Alert]:
    final: dict[str, Alert] = {}
    for a in alerts:
        if a.alert_id not in final or a.revision > final[a.alert_id].revision:
            final[a.alert_id] = a
    return final


def _decisions(bootstrap: str) -> list[Decision]:
    consumer = KafkaConsumer(
        topics.DECISIONS.name, bootstrap_servers=bootstrap, group_id=None,
        auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=1500,
    )  # fmt: skip
    try:
        return [decode_decision(r.value) for r in consumer]
    finally:
        consumer.close()


def test_list_open_graph_and_clear_in_a_real_browser(broker: str, tmp_path: Path) -> None:
    final = _final(ALERTS)
    # The oracle for the ranking: severity, score, minors exposed, latest (how they were built).
    top = min(
        final.values(),
        key=lambda a: (-a.severity.rank, -a.score, -a.minors_exposed, -a.trigger_ts_ms, a.alert_id),
    )
    publish(broker, ALERTS)
    db = tmp_path / "cases.db"
    with serving(broker, db, tmp_path / "serve.log") as url, headless_chromium() as browser:
        wait_for(lambda: count(db, "cases") == len(final), 60, "every case stored")
        browser.get(url)
        rows = browser.find_all("tr.case")
        assert len(rows) == len(final)
        assert browser.attribute(rows[0], "data-case") == top.alert_id
        browser.get(f"{url}?detector=minor_exposure&severity=HIGH")
        wanted = {
            a.alert_id for a in final.values()
            if a.detector == "minor_exposure" and a.severity.value == "HIGH"
        }  # fmt: skip
        assert (
            wanted
            and {browser.attribute(r, "data-case") for r in browser.find_all("tr.case")} == wanted
        )
        browser.get(url)
        browser.click(f'tr.case[data-case="{top.alert_id}"] a')
        assert browser.text("#case-id") == top.alert_id
        assert browser.text("#reason") == top.reason
        nodes = {browser.attribute(n, "data-node") for n in browser.find_all("#link-graph g.node")}
        subject = f"{top.subject.kind.value}:{top.subject.id}"
        assert {subject} | {f"ACCOUNT:{c}" for c in top.counterparts} <= nodes
        # Another detector's case on the same subject is drawn as a shared case.
        others = {a.alert_id for a in final.values() if a.subject == top.subject} - {top.alert_id}
        assert others and {f"CASE:{o}" for o in others} <= nodes
        shot = browser.screenshot()
        browser.click("#clear")
        assert browser.text_becomes("#status", "cleared") == "cleared"
        browser.get(url)
        assert top.alert_id not in {
            browser.attribute(r, "data-case") for r in browser.find_all("tr.case")
        }
    assert shot[:8] == b"\x89PNG\r\n\x1a\n"
    target = os.environ.get("GUARDLINE_SCREENSHOT")
    if target:
        Path(target).write_bytes(shot)
    sent = [d for d in _decisions(broker) if d.alert_id == top.alert_id]
    assert [(d.action, d.detector, d.subject) for d in sent] == [
        (Action.CLEAR, top.detector, top.subject)
    ]
