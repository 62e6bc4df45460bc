"""Helpers for tests that run real workers against a real broker."""

from __future__ import annotations

import dataclasses
import json
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

import streams
from streams import topics
from streams.broker import EmbeddedBroker
from streams.codec import DeadLetter, decode_alert, decode_dead_letter
from streams.config import GuardlineConfig, Mode, load_config
from streams.model import Alert, Severity
from streams.ops.launcher import start_worker, stop_worker, wait_ready

# The demo's config: the defaults plus one shadow candidate, so stream tests also check the
# shadow topic (the priority topic carries the HIGH+ cases either way).
CONFIG_PATH = Path(streams.__file__).parent / "defaults" / "demo.toml"
CONFIG = load_config(CONFIG_PATH)
WITH_CONFIG = ("--config", str(CONFIG_PATH))


@contextmanager
def running_worker(bootstrap: str, work_dir: Path, app_id: str, *extra: str) -> Iterator[Path]:
    """A `guardline worker` process, ready (partitions assigned); yields its log path."""
    proc, ready, log_path = start_worker(bootstrap, work_dir, app_id=app_id, extra=extra)
    try:
        wait_ready(proc, ready, log_path, timeout_s=60)
        yield log_path
    finally:
        stop_worker(proc)


def read_topic(bootstrap: str, topic: str) -> list[bytes]:
    """Every value on `topic` up to its end offsets as of the call (no idle timeout to guess)."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None,
        enable_auto_commit=False,
    )  # fmt: skip
    try:
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(tps)
        ends = {tp: end for tp, end in consumer.end_offsets(tps).items() if end > 0}
        values: list[bytes] = []
        deadline = time.monotonic() + 60
        while any(consumer.position(tp) < end for tp, end in ends.items()):
            assert time.monotonic() < deadline, f"{topic}: end offsets {ends} not reached"
            for records in consumer.poll(timeout_ms=500).values():
                values += [
                    r.value for r in records if r.offset < ends[TopicPartition(topic, r.partition)]
                ]
        return values
    finally:
        consumer.close()


def read_alerts(bootstrap: str, topic: str = topics.ALERTS.name) -> list[Alert]:
    return [decode_alert(v) for v in read_topic(bootstrap, topic)]


def read_dead_letters(bootstrap: str) -> list[DeadLetter]:
    return [decode_dead_letter(v) for v in read_topic(bootstrap, topics.DEAD_LETTER.name)]


def wait_for(predicate, timeout_s: float, what: str, interval_s: float = 1.0):  # type: ignore[no-untyped-def]
    """Poll until `predicate()` returns something truthy; fail with `what` on timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        time.sleep(interval_s)


def committed_total(bootstrap: str, group_id: str, topic: str) -> int:
    """Sum of the group's committed offsets on `topic` (0 where nothing is committed)."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        count = len(admin.describe_topics([topic])[0]["partitions"])
        tps = [TopicPartition(topic, p) for p in range(count)]
        committed = admin.list_group_offsets({group_id: tps}).get(group_id, {})
    finally:
        admin.close()
    return sum(max(0, meta.offset) for meta in committed.values())


def message_count(bootstrap: str, topic: str) -> int:
    """Messages on `topic` (sum of end offsets): a cheap progress probe, no consumer needed."""
    return next(
        (t["end_offsets"] for t in topics.describe_topics(bootstrap) if t["name"] == topic), 0
    )


def drained(bootstrap: str, group_id: str) -> bool:
    """Whether the worker group has committed everything on the input and routed topics."""
    return all(
        sum(topics.consumer_lag(bootstrap, group_id, spec.name).values()) == 0
        for spec in (topics.EVENTS, topics.ROUTED)
    )


def final_cases(alerts: list[Alert]) -> dict[str, int]:
    """What a moderation queue keeps: each case (alert_id) at its highest revision."""
    cases: dict[str, int] = {}
    for alert in alerts:
        cases[alert.alert_id] = max(cases.get(alert.alert_id, 0), alert.revision)
    return cases


def redeliveries(alerts: list[Alert]) -> int:
    """Extra copies of an (alert_id, revision) already published (at-least-once redelivery)."""
    return len(alerts) - len({(a.alert_id, a.revision) for a in alerts})


def pairs(alerts: list[Alert]) -> set[tuple[str, int]]:
    return {(a.alert_id, a.revision) for a in alerts}


def assert_same_alerts(
    got: list[Alert], expected: list[Alert], topic: str = "alerts", *, complete: bool = True
) -> None:
    """Equal to the backtest as (alert_id, revision) pairs and in content (but `emitted_at`);
    a redelivered copy of a pair must be identical to the first. `complete=False`: a stream
    stopped part-way, whose alerts must all be the backtest's, but need not be all of them."""
    lost, extra = pairs(expected) - pairs(got), pairs(got) - pairs(expected)
    assert not extra, f"{topic}: extra {sorted(extra)}"
    if complete:
        assert not lost, f"{topic}: lost {sorted(lost)}"
        assert final_cases(got) == final_cases(expected), topic
    want = {(a.alert_id, a.revision): dataclasses.replace(a, emitted_at_ms=0) for a in expected}
    for alert in got:
        assert (
            dataclasses.replace(alert, emitted_at_ms=0) == want[(alert.alert_id, alert.revision)]
        ), f"{topic}: ({alert.alert_id}, {alert.revision}) differs from the backtest's"


@dataclass(frozen=True, slots=True)
class Outputs:
    """Everything a worker group published, per output topic."""

    alerts: list[Alert]
    priority: list[Alert]
    shadow: list[Alert]
    dead_letters: list[DeadLetter]

    def alert_topics(self) -> dict[str, list[Alert]]:
        return {
            topics.ALERTS.name: self.alerts,
            topics.PRIORITY.name: self.priority,
            topics.SHADOW.name: self.shadow,
        }


def read_outputs(bootstrap: str) -> Outputs:
    return Outputs(
        read_alerts(bootstrap),
        read_alerts(bootstrap, topics.PRIORITY.name),
        read_alerts(bootstrap, topics.SHADOW.name),
        read_dead_letters(bootstrap),
    )


def expected_topics(backtest: list[Alert], config: GuardlineConfig) -> dict[str, list[Alert]]:
    """The backtest's alerts split as README's topic table says: shadow-mode detectors to the
    shadow topic only; the others to the alert topic, and HIGH or CRITICAL also to priority."""
    shadow = [a for a in backtest if config.mode_of(a.detector) is Mode.SHADOW]
    enforced = [a for a in backtest if config.mode_of(a.detector) is not Mode.SHADOW]
    return {
        topics.ALERTS.name: enforced,
        topics.PRIORITY.name: [a for a in enforced if a.severity.rank >= Severity.HIGH.rank],
        topics.SHADOW.name: shadow,
    }


def dead_letter_keys(letters: list[DeadLetter]) -> Counter[tuple[object, ...]]:
    """Dead letters as (key, value, reason code, field), once per input record: a redelivered
    copy (same source offset) must be identical to the first and counts once."""
    first: dict[tuple[int, int], DeadLetter] = {}
    for d in letters:
        seen = first.setdefault((d.source_partition, d.source_offset), d)
        assert dataclasses.replace(d, failed_at_ms=0) == dataclasses.replace(seen, failed_at_ms=0)
    return Counter(
        (d.original_key, d.original_value, d.reason_code, d.field) for d in first.values()
    )


def assert_same_outputs(
    got: Outputs,
    backtest: list[Alert],
    config: GuardlineConfig,
    dead_letters: Counter[tuple[object, ...]] | None = None,
    *,
    complete: bool = True,
) -> None:
    """Every output topic equals what the backtest (and the refused input) make of the input
    (`complete=False`: holds only what they make of it, see `assert_same_alerts`)."""
    want = expected_topics(backtest, config)
    for topic, alerts in got.alert_topics().items():
        assert_same_alerts(alerts, want[topic], topic, complete=complete)
    letters, refused = dead_letter_keys(got.dead_letters), dead_letters or Counter()
    if complete:
        assert letters == refused, "dead letters"
    else:
        assert not letters - refused, "dead letters"


def wait_drained(
    bootstrap: str, group_id: str, timeout_s: float, metrics_port: int | None = None
) -> Outputs:
    """Until the group has committed every input and routed record, then every output.

    The worker commits a record only after the broker acknowledged everything it caused
    (README, "At-least-once"), so with nothing left to commit the output topics are final.
    On a timeout, with the worker's `metrics_port`, the failure says where each of its input
    partitions is (`input_partition_report`).
    """
    try:
        wait_for(lambda: drained(bootstrap, group_id), timeout_s, "no lag", interval_s=0.25)
    except AssertionError as err:
        lags = {
            s.name: topics.consumer_lag(bootstrap, group_id, s.name)
            for s in (topics.EVENTS, topics.ROUTED)
        }
        where = "" if metrics_port is None else f"; worker: {input_partition_report(metrics_port)}"
        raise AssertionError(f"{err}; lag {lags}{where}") from None
    return read_outputs(bootstrap)


def input_partition_report(port: int) -> str:
    """Per input partition of the worker serving /metrics on `port`: its offsets (handed on,
    fetched, committed, end) and fetch states, then its /readyz answer."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            text = resp.read().decode()
        ready = readyz_text(port)
    except OSError as err:
        return f"metrics unreachable ({err})"
    offsets: dict[str, dict[str, int]] = {}
    states: dict[str, list[str]] = {}
    for line in text.splitlines():
        for family in ("guardline_input_offset{", "guardline_input_fetch_state{"):
            if not line.startswith(family):
                continue
            labels = dict(
                pair.split("=", 1) for pair in line[len(family) : line.index("}")].split(",")
            )
            partition = labels["partition"].strip('"')
            value = float(line.rsplit(" ", 1)[1])
            if family.startswith("guardline_input_offset"):
                offsets.setdefault(partition, {})[labels["position"].strip('"')] = int(value)
            elif value:
                states.setdefault(partition, []).append(labels["state"].strip('"'))
    parts = [
        f"[{p}] {'+'.join(sorted(states.get(p, ['?'])))} {offsets.get(p, {})}"
        for p in sorted(set(offsets) | set(states), key=int)
    ]
    return f"{'; '.join(parts) or 'no input partition'}; /readyz {ready!r}"


def readyz_text(port: int) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as resp:
            return str(resp.read().decode())
    except urllib.error.HTTPError as err:
        return str(err.read().decode())


class EnvironmentFailure(Exception):
    """The embedded broker, not Guardline, failed the run: counted apart in the session
    summary (tests/conftest.py), never turned into a pass."""


def input_assignment(bootstrap: str, group_id: str) -> dict[str, list[int]]:
    """Input partitions per group member (static instance id, else member id), as the broker's
    group description (DescribeGroups) has them."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        group = admin.describe_groups([group_id])[group_id]
    finally:
        admin.close()
    held: dict[str, list[int]] = {}
    for member in group["members"]:
        assignment = member["member_assignment"]
        owned = assignment.get("assigned_partitions", []) if isinstance(assignment, dict) else []
        name = member.get("group_instance_id") or member["member_id"]
        held[name] = sorted(
            p for a in owned if a["topic"] == topics.EVENTS.name for p in a["partitions"]
        )
    return held


def persisted(broker: EmbeddedBroker) -> bool:
    """Whether noida-db's state file holds every record its topics hold now: what survives a
    kill -9 (it rewrites the file about once a second while anything changes)."""
    try:
        state = json.loads((broker.data_dir / "kafka.json").read_text())
    except (OSError, ValueError):  # not written yet, or caught mid-write
        return False
    saved = {
        name: sum(partition["high_watermark"] for _id, partition in topic["partitions"])
        for name, topic in state["topics"]
    }
    live = {t["name"]: t["end_offsets"] for t in topics.describe_topics(broker.bootstrap)}
    return all(saved.get(name) == count for name, count in live.items())


def readyz(port: int) -> int:
    """The worker's /readyz status: 503 while it has no broker that accepts connections."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as err:
        return err.code
