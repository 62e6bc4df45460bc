"""The Kafka settings reach every client Guardline creates, SCRAM included.

Each client is built through Guardline's own code path with its library's class replaced by a
recorder, and the keyword arguments it received are checked against the settings. (The real
handshakes are exercised in tests/test_secured_cluster.py: TLS + SASL/PLAIN on a real broker.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiokafka
import pytest

import guardline_bench.run as bench_run
import guardline_bench.scaling as bench_scaling
import streams.alerts_feed
import streams.produce
import streams.topics
from streams import kafka_settings
from streams.adapters.faust.app import GuardlineWorker, WorkerSettings
from streams.config import load_config
from tests.tls_proxy import make_certificates

PASSWORD = "scram-" + "x" * 12


class Built(Exception):
    """Raised by a recorder once it has the client's arguments: nothing connects."""


@pytest.fixture
def scram(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[kafka_settings.KafkaSettings]:
    certs = make_certificates(tmp_path)
    env = {
        "GUARDLINE_SECURITY_PROTOCOL": "SASL_SSL",
        "GUARDLINE_SASL_MECHANISM": "SCRAM-SHA-512",
        "GUARDLINE_SASL_USERNAME": "guardline",
        "GUARDLINE_SASL_PASSWORD": PASSWORD,
        "GUARDLINE_SSL_CAFILE": str(certs.ca),
        "GUARDLINE_REPLICATION_FACTOR": "3",
        "GUARDLINE_MIN_INSYNC_REPLICAS": "2",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    yield kafka_settings.current()  # read now, from this environment (conftest clears it)


def recorder(seen: list[dict[str, Any]]) -> Callable[..., Any]:
    def build(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs)
        raise Built

    return build


def assert_scram(kwargs: dict[str, Any]) -> None:
    assert kwargs["security_protocol"] == "SASL_SSL"
    assert kwargs["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (kwargs["sasl_plain_username"], kwargs["sasl_plain_password"]) == ("guardline", PASSWORD)
    assert kwargs["ssl_context"].check_hostname


def test_cli_producer_consumer_and_admin(scram: object, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[dict[str, Any]] = []
    monkeypatch.setattr(streams.produce, "KafkaProducer", recorder(seen))
    monkeypatch.setattr(streams.alerts_feed, "KafkaConsumer", recorder(seen))
    monkeypatch.setattr(streams.topics, "KafkaAdminClient", recorder(seen))
    builds: list[Callable[[], object]] = [
        lambda: streams.produce.make_producer("kafka:9093"),
        lambda: list(streams.alerts_feed.iter_alerts("kafka:9093")),
        lambda: streams.topics.ensure_topics("kafka:9093"),
        lambda: streams.topics.check_topics("kafka:9093"),
    ]
    for build in builds:
        with pytest.raises(Built):
            build()
    assert len(seen) == len(builds)
    for kwargs in seen:
        assert kwargs["bootstrap_servers"] == "kafka:9093"
        assert_scram(kwargs)


def test_topics_are_created_with_the_replication_settings(
    scram: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: dict[str, Any] = {}

    class Admin:
        def __init__(self, **kwargs: Any) -> None:
            assert_scram(kwargs)

        def describe_topics(self, names: Any = None) -> list[Any]:
            return []

        def create_topics(self, topics: dict[str, Any], raise_errors: bool = True) -> Any:
            asked.update(topics)
            return {"topics": [{"name": n, "error_code": 0, "error_message": None} for n in topics]}

        def wait_for_topics(self, names: Any) -> None: ...
        def create_partitions(self, grow: Any) -> None: ...
        def close(self) -> None: ...

    monkeypatch.setattr(streams.topics, "KafkaAdminClient", Admin)
    created = streams.topics.ensure_topics("kafka:9093")
    assert set(created) == {s.name for s in streams.topics.ALL_TOPICS}
    for topic in asked.values():
        assert topic["replication_factor"] == 3
        assert topic["configs"]["min.insync.replicas"] == "2"


def test_bench_clients(scram: object, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[dict[str, Any]] = []
    monkeypatch.setattr(aiokafka, "AIOKafkaConsumer", recorder(seen))
    monkeypatch.setattr(aiokafka, "AIOKafkaProducer", recorder(seen))
    monkeypatch.setattr(bench_scaling, "KafkaConsumer", recorder(seen))
    with pytest.raises(Built):
        asyncio.run(bench_run._ceiling("kafka:9093", 1, 1.0))
    with pytest.raises(Built):
        bench_scaling.send_fast("kafka:9093", [])
    with pytest.raises(Built):
        bench_scaling.commit_at_end("kafka:9093", "g", 1)
    assert len(seen) == 3
    for kwargs in seen:
        assert_scram(kwargs)


def test_faust_worker_consumer_producer_and_topics(
    scram: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    worker = GuardlineWorker(
        WorkerSettings(bootstrap="kafka:9093", config=load_config(), metrics_port=None)
    )
    app = worker.app
    assert app.conf.topic_replication_factor == 3  # changelog and assignor topics
    assert worker.table.extra_topic_configs == {"min.insync.replicas": "2"}
    changelog = worker.table.changelog_topic.get_topic_name()
    assert changelog in streams.topics.faust_topics("guardline", worker.settings.partitions)
    seen: list[dict[str, Any]] = []
    monkeypatch.setattr(aiokafka, "AIOKafkaConsumer", recorder(seen))
    monkeypatch.setattr(aiokafka, "AIOKafkaProducer", recorder(seen))
    with pytest.raises(Built):
        app.consumer._thread._create_worker_consumer(app.transport)
    with pytest.raises(Built):
        app.producer._new_producer()  # its client also creates Faust's topics
    assert len(seen) == 2
    for kwargs in seen:
        assert_scram(kwargs)


def test_the_embedded_broker_refuses_tls_or_sasl_settings(
    scram: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It speaks PLAINTEXT only: one clear error instead of clients failing to connect."""
    from streams.broker import BOOTSTRAP_ENV, broker_session

    monkeypatch.delenv(BOOTSTRAP_ENV, raising=False)
    session = broker_session()
    with pytest.raises(kafka_settings.KafkaSettingsError, match="PLAINTEXT only"):
        session.__enter__()
