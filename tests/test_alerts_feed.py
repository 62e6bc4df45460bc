"""`guardline alerts tail`, the moderation queue's view: the priority topic by default, each
(alert_id, revision) once, with the case id and revision, as text or JSON."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaProducer

from streams import topics
from streams.alerts_feed import Dedupe, format_alert
from streams.broker import EmbeddedBroker
from streams.codec import encode_alert
from streams.jsonl import alert_from_json
from streams.model import Alert, Severity, Subject, SubjectKind
from tests.factories import T0

BASE = Alert(
    alert_id="c-1", detector="new_contact_burst", detector_version="1", severity=Severity.HIGH,
    score=0.9, subject=Subject(SubjectKind.ACCOUNT, "u-1"), window_start_ms=T0,
    window_end_ms=T0, trigger_ts_ms=T0, features={"x": 1.0}, counterparts=("m-1",),
    minors_exposed=1, evidence_event_ids=("e-1",), reason="Something was seen.",
    counterpart_roles={"m-1": "minor_contacted"},
)  # fmt: skip


def rev(alert_id: str, revision: int, emitted_at_ms: int = 0) -> Alert:
    return dataclasses.replace(
        BASE, alert_id=alert_id, revision=revision, emitted_at_ms=emitted_at_ms
    )


def test_dedupe_shows_each_case_revision_once_and_never_an_older_one() -> None:
    dedupe = Dedupe()
    stream = [rev("a", 1), rev("a", 2), rev("a", 1, 5), rev("a", 2, 5), rev("b", 1), rev("a", 3)]
    shown = [(a.alert_id, a.revision) for a in stream if dedupe.fresh(a)]
    assert shown == [("a", 1), ("a", 2), ("b", 1), ("a", 3)]


def test_dedupe_memory_is_bounded() -> None:
    dedupe = Dedupe(max_cases=2)
    assert all(dedupe.fresh(rev(c, 1)) for c in "abc")
    assert dedupe.fresh(rev("a", 1))  # forgotten (oldest), so shown again: the bound's cost
    assert not dedupe.fresh(rev("c", 1))


def test_the_text_line_names_the_case_and_its_revision() -> None:
    line = format_alert(rev("c-42", 3))
    assert "case c-42 rev 3" in line and "ACCOUNT:u-1" in line and "Something was seen." in line


@pytest.fixture
def broker() -> Iterator[str]:
    with EmbeddedBroker() as b:
        topics.ensure_topics(b.bootstrap)
        yield b.bootstrap


@pytest.mark.broker
def test_tail_reads_the_priority_topic_once_per_revision_as_json(
    broker: str, tmp_path: Path
) -> None:
    producer = KafkaProducer(bootstrap_servers=broker)
    # The last two of "p": a worker's redelivery after a crash. One key, so one partition, read
    # in order: once "last" is shown, everything sent before it was read.
    on_priority = [rev("p", 1), rev("p", 2), rev("p", 1, 9), rev("p", 2, 9), rev("q", 1)]
    on_priority.append(rev("last", 1))
    for alert in on_priority:
        producer.send(topics.PRIORITY.name, key=b"ACCOUNT:u-1", value=encode_alert(alert))
    producer.send(topics.ALERTS.name, key=b"ACCOUNT:u-1", value=encode_alert(rev("not-here", 1)))
    producer.flush()
    producer.close()
    out = tmp_path / "tail.jsonl"
    with out.open("w") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streams", "alerts", "tail", "--from-beginning", "--json",
             "--bootstrap", broker],
            stdout=fh, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 30
            while not re.search(r'"last".*\n', out.read_text()) and time.monotonic() < deadline:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                time.sleep(0.2)
        finally:
            proc.terminate()
            proc.wait(10)
    shown = [alert_from_json(json.loads(line)) for line in out.read_text().splitlines()]
    assert [(a.alert_id, a.revision) for a in shown] == [("p", 1), ("p", 2), ("q", 1), ("last", 1)]
    assert shown[0] == rev("p", 1)  # every field, the counterparts' roles included


def test_the_readme_consumer_reads_single_object_alerts_of_every_schema_version() -> None:
    """The sample consumer (README, "Operate it on Kafka") picks the writer schema by
    fingerprint, so alerts written before `counterpart_roles` decode too, as `{}`."""
    import io

    from fastavro import parse_schema, schemaless_writer

    from streams.codec import MAGIC, SCHEMA_DIR, schema_fingerprint
    from streams.jsonl import alert_to_json

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme[readme.index("## Operate it on Kafka") :]
    code = section[section.index("```python\n") + 10 :]
    namespace: dict[str, object] = {"__name__": "readme_sample"}
    exec(code[: code.index("```")], namespace)
    decode = namespace["decode"]
    assert callable(decode)
    assert decode(encode_alert(BASE))["counterpart_roles"] == {"m-1": "minor_contacted"}
    released = json.loads((SCHEMA_DIR / "released/0.1.0/alert.avsc").read_text())
    record = alert_to_json(BASE)
    del record["counterpart_roles"]
    old = io.BytesIO()
    old.write(MAGIC + schema_fingerprint(released))
    schemaless_writer(old, parse_schema(released), record)
    read = decode(old.getvalue())
    assert read["counterpart_roles"] == {} and read["alert_id"] == BASE.alert_id
