"""A case's evidence bundle: what a hotline report or a police data request asks for, as files,
with a manifest of their SHA-256 (`sha256sum -c MANIFEST.sha256` verifies it).

The metadata events behind the evidence come from the store when it holds them, else from the
input topic (scanned once, up to its end, for the case's event ids; then kept in the store).
docs/evidence-bundle.md maps every field to what such requests ask for.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

from streams import topics
from streams.cases.graph import case_graph, to_svg
from streams.cases.store import CaseStore
from streams.codec import SchemaResolver
from streams.config import load_config
from streams.jsonl import event_to_json

MANIFEST = "MANIFEST.sha256"
TIMELINE_COLUMNS = (
    "revision", "trigger_ts", "severity", "score", "minors_exposed", "window_start",
    "window_end", "detector_version", "reason",
)  # fmt: skip


def bundle_files(
    store: CaseStore,
    alert_id: str,
    bootstrap: str | None,
    resolver: SchemaResolver | None = None,
) -> dict[str, bytes]:
    """Every file of the bundle by name, the manifest last."""
    case = store.case(alert_id)
    if case is None:
        raise KeyError(alert_id)
    revisions = store.revisions(alert_id)
    evidence = sorted({e for r in revisions for e in r["evidence_event_ids"]})
    events = store.events(evidence)
    if len(events) < len(evidence) and bootstrap:
        missing = set(evidence) - {e["event_id"] for e in events}
        found = fetch_events(bootstrap, missing, resolver)
        store.add_events((e["event_id"], int(e["ts"]), e) for e in found)
        events = store.events(evidence)
    config = load_config()
    summary = {
        "case": case,
        "detector_versions": sorted({r["detector_version"] for r in revisions}),
        "config_sha256": hashlib.sha256(repr(config).encode()).hexdigest(),
        "config_source": config.source,
        "counterparts": [
            {"account": n.partition(":")[2], "role": r}
            for n, r in store.nodes(alert_id)
            if r != "subject"
        ],
        "evidence_event_ids": evidence,
        "evidence_events_found": len(events),
        "decisions": store.decisions(alert_id),
    }
    graph = case_graph(store, alert_id)
    files = {
        "case.json": _json(summary),
        "timeline.json": _json([{k: r.get(k) for k in TIMELINE_COLUMNS} for r in revisions]),
        "timeline.csv": _csv(revisions),
        "events.jsonl": "".join(json.dumps(e, sort_keys=True) + "\n" for e in events).encode(),
        "graph.json": _json(graph.to_json()),
        "graph.svg": to_svg(graph).encode(),
    }
    files[MANIFEST] = "".join(
        f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in sorted(files.items())
    ).encode()
    return files


def write_bundle(
    store: CaseStore,
    alert_id: str,
    out: Path,
    bootstrap: str | None,
    resolver: SchemaResolver | None = None,
) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in bundle_files(store, alert_id, bootstrap, resolver).items():
        (out / name).write_bytes(data)
        written.append(out / name)
    return written


def bundle_zip(
    store: CaseStore,
    alert_id: str,
    bootstrap: str | None,
    resolver: SchemaResolver | None = None,
) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in bundle_files(store, alert_id, bootstrap, resolver).items():
            zf.writestr(f"case-{alert_id}/{name}", data)
    return buf.getvalue()


def verify_manifest(directory: Path) -> list[str]:
    """Names whose content does not match the manifest (empty: the bundle verifies)."""
    bad = []
    listed = set()
    for line in (directory / MANIFEST).read_text().splitlines():
        digest, _, name = line.partition("  ")
        listed.add(name)
        path = directory / name
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            bad.append(name)
    extra = {p.name for p in directory.iterdir()} - listed - {MANIFEST}
    return bad + sorted(extra)


def fetch_events(
    bootstrap: str, wanted: set[str], resolver: SchemaResolver | None = None
) -> list[dict[str, Any]]:
    """The input topic's events with these ids, read from the start to its current end."""
    from kafka import KafkaConsumer, TopicPartition

    from streams.codec import decode_event
    from streams.validation import InvalidEvent

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    try:
        parts = [
            TopicPartition(topics.EVENTS.name, p)
            for p in sorted(consumer.partitions_for_topic(topics.EVENTS.name) or ())
        ]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        ends = consumer.end_offsets(parts)
        found: dict[str, dict[str, Any]] = {}
        while wanted - found.keys() and any(consumer.position(tp) < ends[tp] for tp in parts):
            for records in consumer.poll(timeout_ms=500, max_records=5000).values():
                for r in records:
                    try:
                        event = decode_event(r.value, resolver)
                    except InvalidEvent:
                        continue  # on the dead-letter topic already
                    if event.event_id in wanted:
                        found[event.event_id] = event_to_json(event)
        return sorted(found.values(), key=lambda e: (e["ts"], e["event_id"]))
    finally:
        consumer.close()


def _json(doc: Any) -> bytes:
    return (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode()


def _csv(revisions: list[dict[str, Any]]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(TIMELINE_COLUMNS)
    for r in revisions:
        writer.writerow([r.get(k) for k in TIMELINE_COLUMNS])
    return buf.getvalue().encode()
