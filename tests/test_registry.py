"""The registry client against the in-process fake registry, and fail-fast configuration."""

from __future__ import annotations

import json
import socket
import ssl
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from fastavro import parse_schema, schemaless_reader

from streams import kafka_settings, topics
from streams.cli import main
from streams.codec import (
    SCHEMA_DIR,
    RegistryUnavailable,
    decode_alert,
    decode_event,
    encode_alert,
    encode_event,
)
from streams.registry import (
    OUTPUT_SCHEMAS,
    REGISTRY_ENV,
    RegistryError,
    SchemaRegistry,
    connect,
    register_outputs,
    registry_url,
)
from streams.wire import confluent_schema_id
from tests.fake_registry import FakeRegistry, fake_registry
from tests.test_wire import ALERT, EVENT
from tests.tls_proxy import make_certificates


@pytest.fixture
def registry() -> FakeRegistry:
    with fake_registry() as fake:
        yield fake  # type: ignore[misc]


def _dead_url() -> str:
    """A loopback port nobody listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_url_comes_from_the_flag_then_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(REGISTRY_ENV, raising=False)
    assert registry_url(None) is None
    monkeypatch.setenv(REGISTRY_ENV, "http://registry:8081/")
    assert registry_url(None) == "http://registry:8081"
    assert registry_url("https://r.example:443") == "https://r.example:443"


@pytest.mark.parametrize("bad", ["registry:8081", "ftp://r:1", "http://", "http://r:99999"])
def test_bad_urls_fail_naming_the_key(bad: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(RegistryError, match="--schema-registry"):
        registry_url(bad)
    monkeypatch.setenv(REGISTRY_ENV, bad)
    with pytest.raises(RegistryError, match=REGISTRY_ENV):
        registry_url(None)


def test_outputs_register_under_topic_name_strategy(registry: FakeRegistry) -> None:
    headers = register_outputs(connect(registry.url))
    assert set(registry.subjects) == {
        f"{t.name}-value"
        for t in (topics.ALERTS, topics.PRIORITY, topics.SHADOW, topics.DEAD_LETTER)
    }
    ids = {topic: confluent_schema_id(h) for topic, h in headers.items()}
    alert_ids = {ids[t.name] for t in (topics.ALERTS, topics.PRIORITY, topics.SHADOW)}
    assert len(alert_ids) == 1  # one schema, one global id, three subjects
    assert ids[topics.DEAD_LETTER.name] not in alert_ids
    assert json.loads(registry.schemas[ids[topics.ALERTS.name]])["name"] == "Alert"
    assert register_outputs(connect(registry.url)) == headers  # idempotent across restarts


def test_schema_lookups_are_cached_per_id(registry: FakeRegistry) -> None:
    headers = register_outputs(SchemaRegistry(registry.url))
    value = encode_alert(ALERT, headers[topics.ALERTS.name])
    reader = SchemaRegistry(registry.url)  # a fresh process: knows no ids yet
    assert decode_alert(value, reader) == ALERT
    assert decode_alert(value, reader) == ALERT
    gets = [path for method, path in registry.requests if path.startswith("/schemas/ids/")]
    assert gets == [f"/schemas/ids/{confluent_schema_id(value)}"]


def test_unknown_ids_and_a_dead_registry_are_told_apart(registry: FakeRegistry) -> None:
    with pytest.raises(LookupError, match="schema id 404 is not in the registry"):
        SchemaRegistry(registry.url).schema_text(404)
    with pytest.raises(RegistryUnavailable, match="unreachable"):
        SchemaRegistry(_dead_url(), timeout_s=2).schema_text(1)


def test_unreachable_registry_fails_at_start_with_a_clear_message() -> None:
    url = _dead_url()
    with pytest.raises(RegistryError, match=f"schema registry at {url} is unreachable"):
        connect(url)


def test_worker_refuses_to_start_without_its_registry(capsys: pytest.CaptureFixture[str]) -> None:
    url = _dead_url()
    code = main(["worker", "--bootstrap", "127.0.0.1:9", "--schema-registry", url])
    assert code == 2
    err = capsys.readouterr().err
    assert f"schema registry at {url} is unreachable" in err
    assert REGISTRY_ENV in err


def test_alert_readers_refuse_a_malformed_registry_url(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(REGISTRY_ENV, "not-a-url")
    assert main(["alerts", "export", "-o", "x.jsonl", "--bootstrap", "127.0.0.1:9"]) == 2
    assert f"{REGISTRY_ENV}: 'not-a-url'" in capsys.readouterr().err


def test_readme_python_consumer_decodes_both_framings(
    registry: FakeRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sample consumer in README "Operate it on Kafka" runs as printed."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme[readme.index("## Operate it on Kafka") :]
    code = section[section.index("```python\n") + 10 :]
    code = code[: code.index("```")]
    monkeypatch.setenv(REGISTRY_ENV, registry.url)
    monkeypatch.chdir(Path(__file__).resolve().parent.parent)
    namespace: dict[str, Any] = {"__name__": "readme_consumer"}  # not __main__: no consumer
    exec(compile(code, "README.md", "exec"), namespace)
    headers = register_outputs(connect(registry.url))
    for value in (encode_alert(ALERT), encode_alert(ALERT, headers[topics.PRIORITY.name])):
        record = namespace["decode"](value)
        assert (record["alert_id"], record["reason"]) == (ALERT.alert_id, ALERT.reason)
        assert record["subject"] == {"kind": "ACCOUNT", "id": ALERT.subject.id}
    with pytest.raises(ValueError):
        namespace["decode"](b"{}")


def test_confluents_own_client_reads_our_alerts_and_writes_events_we_read(
    registry: FakeRegistry,
) -> None:
    """A second implementation of the framing: confluent-kafka's Avro serde, both ways."""
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    client = SchemaRegistryClient({"url": registry.url})
    headers = register_outputs(connect(registry.url))
    value = encode_alert(ALERT, headers[topics.PRIORITY.name])
    context = SerializationContext(topics.PRIORITY.name, MessageField.VALUE)
    record = AvroDeserializer(client)(value, context)
    assert (record["alert_id"], record["revision"]) == (ALERT.alert_id, ALERT.revision)
    assert record["subject"] == {"kind": "ACCOUNT", "id": ALERT.subject.id}
    assert int(record["trigger_ts"].timestamp() * 1000) == ALERT.trigger_ts_ms

    schema = (SCHEMA_DIR / "metadata_event.avsc").read_text()
    plain = schemaless_reader(BytesIO(encode_event(EVENT)[10:]), parse_schema(json.loads(schema)))
    context = SerializationContext(topics.EVENTS.name, MessageField.VALUE)
    framed = AvroSerializer(client, schema)(plain, context)
    assert framed[:1] == b"\x00"
    assert f"{topics.EVENTS.name}-value" in registry.subjects
    assert decode_event(framed, SchemaRegistry(registry.url)) == EVENT


def test_https_registry_with_basic_auth_from_the_kafka_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    certs = make_certificates(tmp_path)
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(certs.server_cert, certs.server_key)
    secret = "registry-" + "s" * 10
    with fake_registry(user_info=f"guardline:{secret}", tls=server) as registry:
        monkeypatch.setenv("GUARDLINE_SCHEMA_REGISTRY_SSL_CAFILE", str(certs.ca))
        monkeypatch.setenv("GUARDLINE_SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO", f"guardline:{secret}")
        headers = register_outputs(connect(registry.url))
        assert set(headers) == set(OUTPUT_SCHEMAS)
        # The same credentials in the URL work too, and are never shown.
        monkeypatch.delenv("GUARDLINE_SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO")
        kafka_settings.current.cache_clear()
        with_creds = registry.url.replace("https://", f"https://guardline:{secret}@")
        assert secret not in connect(with_creds).url
        wrong = registry.url.replace("https://", "https://guardline:wrong-pass@")
        with pytest.raises(RegistryError) as refused:
            connect(wrong)
        assert "401" in str(refused.value) and "wrong-pass" not in str(refused.value)
        # Without the CA, the registry's certificate is not trusted.
        monkeypatch.delenv("GUARDLINE_SCHEMA_REGISTRY_SSL_CAFILE")
        kafka_settings.current.cache_clear()
        with pytest.raises(RegistryError, match="CERTIFICATE_VERIFY_FAILED"):
            connect(with_creds)
