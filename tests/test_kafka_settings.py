"""streams/kafka_settings.py: reading, checking and translating the Kafka client settings."""

from __future__ import annotations

import ssl
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.config import ConfigError
from streams.kafka_settings import (
    CONFIG_FILE_ENV,
    KafkaSettings,
    KafkaSettingsError,
    env_name,
    load,
    read_properties,
)
from tests.tls_proxy import make_certificates

SECRET = "hunter2-secret"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return make_certificates(tmp_path_factory.mktemp("certs"))


def test_nothing_set_is_plaintext_with_replication_one() -> None:
    settings = load({})
    assert settings == KafkaSettings()
    assert settings.kafka_python() == {"security_protocol": "PLAINTEXT"}
    assert settings.topic_configs() == {}


def test_a_properties_file_and_the_environment_which_wins(tmp_path: Path, certs) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "client.properties"
    path.write_text(
        "# comment\n! also a comment\n\n"
        "security.protocol = sasl_ssl\n"
        "sasl.mechanisms=SCRAM-SHA-512\n"  # librdkafka's spelling
        "sasl.username: from-file\n"
        f"ssl.ca.location={certs.ca}\n"
        "replication.factor=3\nmin.insync.replicas=2\n"
    )
    env = {CONFIG_FILE_ENV: str(path), "GUARDLINE_SASL_USERNAME": "from-env",
           "GUARDLINE_SASL_PASSWORD": SECRET}  # fmt: skip
    settings = load(env)
    assert settings.security_protocol == "SASL_SSL"
    assert settings.sasl_mechanism == "SCRAM-SHA-512"
    assert settings.sasl_username == "from-env"
    assert settings.ssl_cafile == str(certs.ca)
    assert (settings.replication_factor, settings.min_insync_replicas) == (3, 2)
    assert settings.topic_configs() == {"min.insync.replicas": "2"}


def test_kafka_python_and_aiokafka_get_the_same_credentials_and_tls(certs) -> None:  # type: ignore[no-untyped-def]
    settings = KafkaSettings(
        security_protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-256", sasl_username="u",
        sasl_password=SECRET, ssl_cafile=str(certs.ca), ssl_certfile=str(certs.client_cert),
        ssl_keyfile=str(certs.client_key),
    )  # fmt: skip
    for kwargs in (settings.kafka_python(),):  # kafka-python's and aiokafka's clients
        assert kwargs["security_protocol"] == "SASL_SSL"
        assert kwargs["sasl_mechanism"] == "SCRAM-SHA-256"
        assert (kwargs["sasl_plain_username"], kwargs["sasl_plain_password"]) == ("u", SECRET)
        context = kwargs["ssl_context"]
        assert isinstance(context, ssl.SSLContext)
        assert context.check_hostname and context.verify_mode is ssl.CERT_REQUIRED
    rd = settings.librdkafka()
    assert rd["security.protocol"] == "sasl_ssl" and rd["sasl.password"] == SECRET
    assert rd["ssl.ca.location"] == str(certs.ca)
    assert rd["ssl.endpoint.identification.algorithm"] == "https"


def test_the_hostname_check_can_be_switched_off_the_certificate_check_cannot(certs) -> None:  # type: ignore[no-untyped-def]
    settings = load(
        {"GUARDLINE_SECURITY_PROTOCOL": "SSL", "GUARDLINE_SSL_CAFILE": str(certs.ca),
         "GUARDLINE_SSL_ENDPOINT_IDENTIFICATION_ALGORITHM": "none"}
    )  # fmt: skip
    context = settings.ssl_context()
    assert context is not None and not context.check_hostname
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert "sasl_mechanism" not in settings.kafka_python()


def test_every_problem_is_reported_at_once_and_no_secret_in_any_message(tmp_path: Path) -> None:
    path = tmp_path / "bad.properties"
    path.write_text(
        "security.protocol=SASL_SSL\nsasl.mechanism=GSSAPI\n"
        f"sasl.password={SECRET}\nssl.cafile=/nowhere/ca.pem\nbatch.size=5\n"
        "replication.factor=2\nmin.insync.replicas=3\n"
    )
    with pytest.raises(KafkaSettingsError) as caught:
        load({CONFIG_FILE_ENV: str(path)})
    problems = caught.value.problems
    assert isinstance(caught.value, ConfigError)  # the CLI's one-line error path
    expected = ["batch.size: unknown", "sasl.mechanism: 'GSSAPI'", "sasl.username: required",
                "ssl.cafile: no such file", "min.insync.replicas: 3 is above"]  # fmt: skip
    for start in expected:
        assert any(p.startswith(start) for p in problems), (start, problems)
    assert len(problems) == len(expected)
    assert SECRET not in str(caught.value)


def test_settings_that_the_protocol_would_ignore_are_refused() -> None:
    with pytest.raises(KafkaSettingsError) as caught:
        load({"GUARDLINE_SASL_USERNAME": "u", "GUARDLINE_SSL_KEY_PASSWORD": SECRET})
    assert caught.value.problems == [
        "sasl.username: set, but security.protocol=PLAINTEXT uses no SASL",
        "ssl.key.password: set, but security.protocol=PLAINTEXT uses no TLS",
    ]


def test_secrets_stay_out_of_repr_and_describe() -> None:
    settings = KafkaSettings(
        security_protocol="SASL_PLAINTEXT", sasl_mechanism="PLAIN", sasl_username="u",
        sasl_password=SECRET, ssl_key_password=SECRET, registry_user_info=f"u:{SECRET}",
    )  # fmt: skip
    assert SECRET not in repr(settings)
    assert SECRET not in settings.describe()
    assert "user=u" in settings.describe()


def test_an_unreadable_file_is_one_problem(tmp_path: Path) -> None:
    (tmp_path / "latin1.properties").write_bytes(b"sasl.username=j\xe9r\xf4me\n")
    with pytest.raises(KafkaSettingsError, match="not UTF-8"):
        load({CONFIG_FILE_ENV: str(tmp_path / "latin1.properties")})
    with pytest.raises(KafkaSettingsError, match="cannot read"):
        load({CONFIG_FILE_ENV: str(tmp_path / "missing.properties")})


_KEY = st.from_regex(r"[a-z][a-z0-9.]{0,20}", fullmatch=True)
_VALUE = st.from_regex(r"[A-Za-z0-9_/.:=-]{0,20}", fullmatch=True).map(str.strip)


@given(st.dictionaries(_KEY, _VALUE, max_size=6))
def test_properties_round_trip(entries: dict[str, str]) -> None:
    text = "\n".join(f"{k}={v}" for k, v in entries.items())
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "p.properties"
        path.write_text(text)
        assert read_properties(path) == entries


def test_environment_names_follow_one_rule() -> None:
    assert env_name("sasl.password") == "GUARDLINE_SASL_PASSWORD"
    assert env_name("schema.registry.basic.auth.user.info") == (
        "GUARDLINE_SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO"
    )
