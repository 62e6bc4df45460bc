"""`guardline topics --check`: what differs between the cluster's topics and the settings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from streams import kafka_settings, topics
from streams.broker import EmbeddedBroker
from streams.cli import main

pytestmark = [pytest.mark.broker]


@pytest.fixture
def broker() -> Iterator[str]:
    with EmbeddedBroker() as b:
        topics.ensure_topics(b.bootstrap)
        yield b.bootstrap


def test_topics_as_created_match(broker: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["topics", "--check", "--bootstrap", broker]) == 0
    assert capsys.readouterr().out.strip() == "topics match"


def test_each_difference_is_one_line_and_exit_1(
    broker: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(kafka_settings.CONFIG_FILE_ENV, "")  # main sets it; undone after the test
    properties = tmp_path / "cluster.properties"
    properties.write_text("replication.factor=2\nmin.insync.replicas=2\n")
    args = ["topics", "--check", "--bootstrap", broker, "--kafka-config", str(properties)]
    assert main([*args, "--partitions", "6"]) == 1
    lines = capsys.readouterr().out.strip().splitlines()
    names = [spec.name for spec in topics.ALL_TOPICS]
    expected = {
        f"{n}: replication factor 1, the settings ask for 2 (replication.factor)" for n in names
    }
    expected |= {
        f"{n}: min.insync.replicas=(broker default), the settings ask for 2" for n in names
    }
    expected |= {
        f"{n}: 4 partitions, the settings ask for 6"
        for n in (topics.EVENTS.name, topics.ROUTED.name)
    }
    assert set(lines[:-1]) == expected
    assert lines[-1] == f"{len(expected)} difference(s) from the settings"


def test_a_missing_topic_is_reported(broker: str, capsys: pytest.CaptureFixture[str]) -> None:
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=broker)
    admin.delete_topics([topics.SHADOW.name])
    admin.close()
    assert main(["topics", "--check", "--bootstrap", broker]) == 1
    out = capsys.readouterr().out
    assert f"{topics.SHADOW.name}: missing" in out


def test_bad_kafka_settings_are_one_error_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(kafka_settings.CONFIG_FILE_ENV, "")
    properties = tmp_path / "bad.properties"
    properties.write_text("security.protocol=TLS\n")
    assert main(["topics", "--bootstrap", "127.0.0.1:1", "--kafka-config", str(properties)]) == 2
    err = capsys.readouterr().err
    assert "security.protocol: 'TLS' is not one of" in err and "Traceback" not in err
