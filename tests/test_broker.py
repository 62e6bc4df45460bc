"""The embedded broker and topic administration, against a real noida-db (no mocks)."""

from __future__ import annotations

import logging
import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType

from streams import topics
from streams.broker import (
    PERSIST_INTERVAL_S,
    BrokerError,
    EmbeddedBroker,
    broker_session,
    external_bootstrap,
    find_noida_db,
    restart_kafka_service,
)

pytestmark = pytest.mark.broker


@pytest.fixture
def fresh_broker(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    """A broker of the test's own, for tests that stop, kill or count topics."""
    with EmbeddedBroker(data_dir=tmp_path / "broker") as broker:
        yield broker


def processes_mentioning(path: Path) -> list[int]:
    """Pids whose command line contains `path` (checked via /proc, independently of broker.py)."""
    needle = str(path).encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if needle in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def topic_names(bootstrap: str) -> list[str]:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        return list(admin.list_topics())
    finally:
        admin.close()


def produce(bootstrap: str, topic: str, values: list[bytes], partition: int | None = None) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for value in values:
        producer.send(topic, key=b"k", value=value, partition=partition)
    producer.flush()
    producer.close()


def consume(consumer: KafkaConsumer, count: int, timeout_s: float = 15.0) -> list[bytes]:
    values: list[bytes] = []
    deadline = time.monotonic() + timeout_s
    while len(values) < count and time.monotonic() < deadline:
        batches = consumer.poll(timeout_ms=200, max_records=count - len(values))
        values += [record.value for batch in batches.values() for record in batch]
    return values


def test_start_answers_and_stop_leaves_no_process(fresh_broker: EmbeddedBroker) -> None:
    data_dir = fresh_broker.data_dir
    assert "__consumer_offsets" in topic_names(fresh_broker.bootstrap)
    assert len(processes_mentioning(data_dir)) >= 2  # the wrapper and the native broker
    assert fresh_broker.last_start_s is not None and fresh_broker.last_start_s < 30

    fresh_broker.stop()
    fresh_broker.stop()  # idempotent

    assert processes_mentioning(data_dir) == []
    assert not fresh_broker.is_running()
    assert data_dir.exists()  # stop keeps the data; only close() of a temp dir removes it


def test_close_removes_its_temp_dir() -> None:
    with EmbeddedBroker() as broker:
        data_dir = broker.data_dir
        assert (data_dir / "guardline-broker.log").exists()
    assert processes_mentioning(data_dir) == []
    assert not data_dir.exists()


def test_data_survives_kill_9_and_restart(fresh_broker: EmbeddedBroker) -> None:
    values = [f"m{i}".encode() for i in range(100)]
    produce(fresh_broker.bootstrap, "crash-test", values)
    # noida-db snapshots about once a second: writes acknowledged within the last ~0.9 s are
    # lost by kill -9 (measured). Real Kafka keeps them (they are in the page cache).
    time.sleep(2 * PERSIST_INTERVAL_S)
    bootstrap = fresh_broker.bootstrap

    fresh_broker.kill()
    assert processes_mentioning(fresh_broker.data_dir) == []
    fresh_broker.restart()

    assert fresh_broker.bootstrap == bootstrap
    consumer = KafkaConsumer(
        "crash-test", bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    try:
        assert sorted(consume(consumer, 100)) == sorted(values)
    finally:
        consumer.close()


def test_stop_kills_a_broker_that_ignores_down(fresh_broker: EmbeddedBroker) -> None:
    native = [pid for pid in processes_mentioning(fresh_broker.data_dir) if pid != fresh_broker.pid]
    for pid in native:
        os.kill(pid, signal.SIGSTOP)  # a hung broker: `noida-db down` gets no answer

    fresh_broker.stop(timeout_s=1.0)

    assert processes_mentioning(fresh_broker.data_dir) == []


def test_restart_kafka_service_keeps_data(fresh_broker: EmbeddedBroker) -> None:
    produce(fresh_broker.bootstrap, "kept", [b"x"])
    took = restart_kafka_service(fresh_broker.data_dir)  # finds the port via `noida-db status`
    assert took < 30
    assert "kept" in topic_names(fresh_broker.bootstrap)


def test_start_fails_fast_with_the_log_when_the_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        broker = EmbeddedBroker(port=taken.getsockname()[1], data_dir=tmp_path / "b")
        with pytest.raises(BrokerError, match="already in use") as failure:
            broker.start()
    assert processes_mentioning(tmp_path / "b") == []
    assert "GLIBC" not in str(failure.value)  # the harmless warning is filtered from the tail


def test_start_refuses_a_data_dir_another_broker_serves(fresh_broker: EmbeddedBroker) -> None:
    with pytest.raises(BrokerError, match="already serves"):
        EmbeddedBroker(data_dir=fresh_broker.data_dir).start()
    assert fresh_broker.is_running()


def test_missing_noida_db_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.executable", "/nonexistent/bin/python")
    monkeypatch.setenv("PATH", "")
    with pytest.raises(BrokerError, match="noida-db is not installed; run"):
        find_noida_db()


def test_broker_session_uses_the_external_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUARDLINE_BOOTSTRAP_SERVERS", "  ")
    assert external_bootstrap() is None
    monkeypatch.setenv("GUARDLINE_BOOTSTRAP_SERVERS", " kafka-1:9092 ")
    with broker_session() as bootstrap:
        assert bootstrap == "kafka-1:9092"


def topic_configs(bootstrap: str, name: str) -> dict[str, str]:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        answer = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)])
    finally:
        admin.close()
    return {key: entry["value"] for key, entry in answer["topic"][name].items()}


def test_ensure_topics_is_idempotent_and_as_specified(
    fresh_broker: EmbeddedBroker, caplog: pytest.LogCaptureFixture
) -> None:
    bootstrap = fresh_broker.bootstrap
    assert sorted(topics.ensure_topics(bootstrap)) == sorted(s.name for s in topics.ALL_TOPICS)
    assert topics.ensure_topics(bootstrap) == []

    described = {t["name"]: t for t in topics.describe_topics(bootstrap)}
    for spec in topics.ALL_TOPICS:
        assert described[spec.name]["partitions"] == spec.partitions == 4
        assert topic_configs(bootstrap, spec.name) == {
            "retention.ms": str(spec.retention_ms),
            "cleanup.policy": "delete",
        }
    assert topics.EVENTS.retention_ms == 7 * 24 * 3600 * 1000
    assert topics.PRIORITY.retention_ms == 30 * 24 * 3600 * 1000

    with caplog.at_level(logging.WARNING, logger="streams.topics"):
        assert topics.ensure_topics(bootstrap, partitions=6) == []
    assert "growing topic guardline.events.v1 from 4 to 6 partitions" in caplog.text
    described = {t["name"]: t for t in topics.describe_topics(bootstrap)}
    assert described[topics.EVENTS.name]["partitions"] == 6
    assert described[topics.ALERTS.name]["partitions"] == 4


def test_refused_configs_fall_back_to_broker_defaults(
    bootstrap: str, unique_suffix: str, caplog: pytest.LogCaptureFixture
) -> None:
    odd = topics.TopicSpec(
        f"odd-{unique_suffix}",
        60_000,
        key="-",
        purpose="test",
        partitions=2,
        cleanup_policy="bogus",
    )

    with caplog.at_level(logging.WARNING, logger="streams.topics"):
        assert topics.ensure_specs(bootstrap, [odd]) == [odd.name]

    assert f"refused the configs {odd.configs} of topic {odd.name}" in caplog.text
    assert topic_configs(bootstrap, odd.name).get("cleanup.policy", "delete") == "delete"


def test_describe_topics_counts_messages(fresh_broker: EmbeddedBroker) -> None:
    topics.ensure_topics(fresh_broker.bootstrap)
    produce(fresh_broker.bootstrap, topics.DEAD_LETTER.name, [b"a", b"b", b"c"])
    produce(fresh_broker.bootstrap, "scratch", [b"x"])

    described = {t["name"]: t for t in topics.describe_topics(fresh_broker.bootstrap)}

    assert described[topics.DEAD_LETTER.name]["messages"] == 3
    assert described[topics.DEAD_LETTER.name]["end_offsets"] == 3
    assert described[topics.EVENTS.name]["messages"] == 0
    assert described["scratch"]["known"] is False
    assert "__consumer_offsets" not in described


def test_consumer_lag_after_a_partial_commit(bootstrap: str, unique_suffix: str) -> None:
    topic, group = f"lag-{unique_suffix}", f"group-{unique_suffix}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics({topic: {"num_partitions": 2, "replication_factor": 1}})
    finally:
        admin.close()
    produce(bootstrap, topic, [b"p0"] * 30, partition=0)
    produce(bootstrap, topic, [b"p1"] * 20, partition=1)
    assert topics.consumer_lag(bootstrap, group, topic) == {0: 30, 1: 20}  # nothing committed

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    try:
        consumer.assign([TopicPartition(topic, 0)])
        assert len(consume(consumer, 10)) == 10
        consumer.commit()
    finally:
        consumer.close()

    assert topics.consumer_lag(bootstrap, group, topic) == {0: 20, 1: 20}
