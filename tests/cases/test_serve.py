"""`guardline cases serve` against a real broker: fills the store, restarts without duplicates,
and refuses to listen beyond this machine without credentials."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from kafka import KafkaProducer

from streams import topics
from streams.backtest import run_backtest
from streams.cases.bundle import verify_manifest
from streams.cases.feed import CaseFeed
from streams.cases.store import CaseStore
from streams.cli import main
from streams.codec import SCHEMA_DIR, encode_alert
from streams.config import load_config
from streams.produce import make_producer, send_events
from streams.registry import connect, value_subject
from streams.wire import confluent_header
from tests.cases.builders import attack, attack_alerts
from tests.cases.postgres import new_database
from tests.cases.serving import count, publish, query, serving, start_serve
from tests.fake_registry import fake_registry
from tests.streaming import wait_for

ALERTS = attack_alerts() + attack_alerts("u-other", children=8)


@pytest.mark.broker
@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_store_fills_and_a_restart_or_replay_adds_nothing(
    broker: str, tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    log = tmp_path / "serve.log"
    db: Path | str = tmp_path / "cases.db"
    if backend == "postgresql":
        db = new_database(request.getfixturevalue("cluster"))
    revisions = {(a.alert_id, a.revision) for a in ALERTS}  # the oracle: how they were built
    cases = {a.alert_id for a in ALERTS}
    publish(broker, ALERTS + ALERTS[:5])  # five redelivered, as after a worker crash
    proc, _url = start_serve(broker, db, log)
    wait_for(lambda: count(db, "alert_revisions") == len(revisions), 60, "every revision stored")
    proc.kill()  # no clean shutdown: the store's offsets are what it committed
    proc.wait()
    publish(broker, ALERTS)  # a full replay of the topics
    with serving(broker, db, log):
        wait_for(lambda: _fed_to_end(broker, db), 60, "the feed reaching the topics' ends")
    assert count(db, "alert_revisions") == len(revisions)
    assert count(db, "cases") == len(cases)


def _fed_to_end(bootstrap: str, db: Path | str) -> bool:
    ends = {t["name"]: t["end_offsets"] for t in topics.describe_topics(bootstrap)}
    rows = query(db, "SELECT topic, SUM(next_offset) FROM feed_offsets GROUP BY topic")
    stored = {str(t): int(str(n)) for t, n in rows}
    return all(stored.get(t, 0) == ends[t] for t in (topics.ALERTS.name, topics.PRIORITY.name))


def test_a_non_local_bind_without_credentials_is_refused(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "GUARDLINE_CASES_TOKEN"}
    done = subprocess.run(
        [sys.executable, "-m", "streams", "cases", "serve", "--host", "0.0.0.0",
         "--db", str(tmp_path / "c.db"), "--bootstrap", "127.0.0.1:1"],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.startswith("error: refusing to serve cases on 0.0.0.0")
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "c.db").exists()  # refused before touching anything


@pytest.mark.broker
def test_an_exported_bundle_verifies_and_holds_the_evidence_events(
    broker: str, tmp_path: Path
) -> None:
    events = attack("u-bundle", 12)
    send_events(make_producer(broker), events)
    db = tmp_path / "cases.db"
    store = CaseStore.open(db)
    alerts = run_backtest(events, load_config())
    for a in alerts:
        store.add_alert(a)
    store.close()
    case_id = alerts[-1].alert_id
    evidence = {e for a in alerts if a.alert_id == case_id for e in a.evidence_event_ids}
    out = tmp_path / "bundle"
    args = ["cases", "export", case_id, "-o", str(out), "--db", str(db), "--bootstrap", broker]
    assert main(args) == 0
    # An independent check of the manifest: coreutils' sha256sum.
    check = subprocess.run(["sha256sum", "-c", "MANIFEST.sha256"], cwd=out, capture_output=True)
    assert check.returncode == 0, check.stdout
    assert verify_manifest(out) == []
    lines = (out / "events.jsonl").read_text().splitlines()
    assert {json.loads(line)["event_id"] for line in lines} == evidence
    summary = json.loads((out / "case.json").read_text())
    assert summary["case"]["alert_id"] == case_id and len(summary["config_sha256"]) == 64
    timeline = list(csv.DictReader((out / "timeline.csv").open()))
    revisions = sorted(a.revision for a in alerts if a.alert_id == case_id)
    assert [int(r["revision"]) for r in timeline] == revisions
    graph = json.loads((out / "graph.json").read_text())
    assert f"ACCOUNT:{alerts[-1].subject.id}" in {n["id"] for n in graph["nodes"]}
    with (out / "timeline.json").open("a") as fh:
        fh.write(" ")
    assert verify_manifest(out) == ["timeline.json"]


@pytest.mark.broker
def test_the_feed_reads_confluent_framed_alerts_with_the_registry(
    broker: str, tmp_path: Path
) -> None:
    alerts = attack_alerts("u-registry", children=8)
    with fake_registry() as registry:
        schema_id = registry.register(
            value_subject(topics.ALERTS.name), (SCHEMA_DIR / "alert.avsc").read_text()
        )
        producer = KafkaProducer(bootstrap_servers=broker, acks="all")
        for a in alerts:  # as a registry-configured worker writes them
            value = encode_alert(a, confluent_header(schema_id))
            producer.send(topics.ALERTS.name, key=b"ACCOUNT:u-registry", value=value)
        producer.flush()
        producer.close()
        without = CaseFeed(CaseStore.open(tmp_path / "a.db"), broker)
        without.catch_up()
        assert without.stats.unreadable >= len(alerts)  # counted, not stored, not fatal
        store = CaseStore.open(tmp_path / "b.db")
        feed = CaseFeed(store, broker, resolver=connect(registry.url))
        feed.catch_up()
        feed.close()
    assert feed.stats.unreadable == 0
    stored = {(r["alert_id"], r["revision"]) for a in alerts for r in store.revisions(a.alert_id)}
    assert stored == {(a.alert_id, a.revision) for a in alerts}
