"""How Guardline reaches a Kafka cluster beyond its address: TLS, SASL, replication, registry auth.

Read once per process from a client properties file (`--kafka-config FILE` or
$GUARDLINE_KAFKA_CONFIG: `key=value` lines, the file Kafka's own tools take as
`--command-config`) and from environment variables named after the same keys
(`sasl.password` -> `GUARDLINE_SASL_PASSWORD`), which win over the file. Every problem is
reported at once. Translated here, once, for each client library Guardline uses: kafka-python
and aiokafka (the same keyword names), librdkafka (the Quix peer); the Faust worker's
translation sits in `streams/adapters/faust/cluster.py`, the only place allowed to import
Faust. All of them get the same `ssl.SSLContext`, built here. Secrets never appear in a repr,
a log line or an error.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from streams.config import ConfigError

CONFIG_FILE_ENV: Final = "GUARDLINE_KAFKA_CONFIG"
PROTOCOLS: Final = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS: Final = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
# Kafka's client settings (ssl.* as kafka-python spells them), so an existing
# client.properties mostly works as it is; the README's table says what each takes.
KEYS: Final = (
    "security.protocol",
    "sasl.mechanism",
    "sasl.username",
    "sasl.password",
    "ssl.cafile",
    "ssl.certfile",
    "ssl.keyfile",
    "ssl.key.password",
    "ssl.endpoint.identification.algorithm",
    "replication.factor",
    "min.insync.replicas",
    "schema.registry.basic.auth.user.info",
    "schema.registry.ssl.cafile",
    "schema.registry.ssl.certfile",
    "schema.registry.ssl.keyfile",
)
# librdkafka's names for the same settings, accepted in a file as aliases.
ALIASES: Final = {
    "sasl.mechanisms": "sasl.mechanism",
    "ssl.ca.location": "ssl.cafile",
    "ssl.certificate.location": "ssl.certfile",
    "ssl.key.location": "ssl.keyfile",
}


def env_name(key: str) -> str:
    """`sasl.password` -> `GUARDLINE_SASL_PASSWORD`."""
    return "GUARDLINE_" + key.upper().replace(".", "_")


class KafkaSettingsError(ConfigError):
    """Bad Kafka client settings; lists every problem, never a secret's value."""


@dataclass(frozen=True, slots=True)
class KafkaSettings:
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = dataclasses.field(default=None, repr=False)
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    ssl_key_password: str | None = dataclasses.field(default=None, repr=False)
    check_hostname: bool = True
    replication_factor: int = 1
    min_insync_replicas: int | None = None
    registry_user_info: str | None = dataclasses.field(default=None, repr=False)
    registry_cafile: str | None = None
    registry_certfile: str | None = None
    registry_keyfile: str | None = None

    @property
    def tls(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    @property
    def sasl(self) -> bool:
        return self.security_protocol.startswith("SASL_")

    def describe(self) -> str:
        """One line for logs: what is used, never a secret."""
        parts = [f"security.protocol={self.security_protocol}"]
        if self.sasl:
            parts.append(f"sasl.mechanism={self.sasl_mechanism} user={self.sasl_username}")
        if self.tls:
            parts.append(f"ssl.cafile={self.ssl_cafile or '(system)'}")
            parts.append(f"client certificate={'yes' if self.ssl_certfile else 'no'}")
            parts.append(f"hostname check={'on' if self.check_hostname else 'off'}")
        parts.append(f"replication.factor={self.replication_factor}")
        if self.min_insync_replicas is not None:
            parts.append(f"min.insync.replicas={self.min_insync_replicas}")
        return " ".join(parts)

    # --- translations, one per client library ------------------------------------------

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context every Kafka client gets (None without TLS)."""
        if not self.tls:
            return None
        return _context(
            self.ssl_cafile, self.ssl_certfile, self.ssl_keyfile, self.ssl_key_password,
            check_hostname=self.check_hostname,
        )  # fmt: skip

    def kafka_python(self) -> dict[str, Any]:
        """Keyword arguments for kafka-python's and aiokafka's clients (the same names)."""
        out: dict[str, Any] = {"security_protocol": self.security_protocol}
        if self.sasl:
            out["sasl_mechanism"] = self.sasl_mechanism
            out["sasl_plain_username"] = self.sasl_username
            out["sasl_plain_password"] = self.sasl_password
        if self.tls:
            out["ssl_context"] = self.ssl_context()
        return out

    def librdkafka(self) -> dict[str, str]:
        """librdkafka properties (confluent-kafka, Quix Streams)."""
        out = {"security.protocol": self.security_protocol.lower()}
        if self.sasl:
            out["sasl.mechanism"] = str(self.sasl_mechanism)
            out["sasl.username"] = str(self.sasl_username)
            out["sasl.password"] = str(self.sasl_password)
        if self.tls:
            files = {
                "ssl.ca.location": self.ssl_cafile,
                "ssl.certificate.location": self.ssl_certfile,
                "ssl.key.location": self.ssl_keyfile,
                "ssl.key.password": self.ssl_key_password,
            }
            out.update({k: v for k, v in files.items() if v is not None})
            out["ssl.endpoint.identification.algorithm"] = (
                "https" if self.check_hostname else "none"
            )
        return out

    def topic_configs(self) -> dict[str, str]:
        """Topic configs every Guardline and Faust topic gets on creation."""
        if self.min_insync_replicas is None:
            return {}
        return {"min.insync.replicas": str(self.min_insync_replicas)}

    def registry_ssl_context(self) -> ssl.SSLContext | None:
        """TLS context for an https schema registry (None: the system's defaults)."""
        if self.registry_cafile is None and self.registry_certfile is None:
            return None
        return _context(self.registry_cafile, self.registry_certfile, self.registry_keyfile)


def _context(
    cafile: str | None,
    certfile: str | None,
    keyfile: str | None,
    password: str | None = None,
    *,
    check_hostname: bool = True,
) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=cafile)
    if certfile is not None:
        context.load_cert_chain(certfile, keyfile, password)
    context.check_hostname = check_hostname  # the certificate itself is always verified
    return context


def read_properties(path: Path) -> dict[str, str]:
    """A Java-style properties file: `key=value` (or `key: value`), `#`/`!` comments."""
    out: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line[0] in "#!":
            continue
        cut = min((i for i in (line.find("="), line.find(":")) if i > 0), default=-1)
        if cut < 0:
            out[line] = ""
        else:
            out[line[:cut].strip()] = line[cut + 1 :].strip()
    return out


def load(environ: Mapping[str, str] | None = None, path: Path | None = None) -> KafkaSettings:
    """Settings from `path` (default: $GUARDLINE_KAFKA_CONFIG) and the environment."""
    environ = os.environ if environ is None else environ
    if path is None and environ.get(CONFIG_FILE_ENV):
        path = Path(environ[CONFIG_FILE_ENV])
    problems: list[str] = []
    raw: dict[str, str] = {}
    source = "environment"
    if path is not None:
        source = f"{path} and environment"
        try:
            from_file = read_properties(path)
        except (OSError, UnicodeDecodeError) as err:
            reason = err.strerror if isinstance(err, OSError) else "not UTF-8 text"
            raise KafkaSettingsError([f"cannot read {path}: {reason}"], source) from err
        for key, value in from_file.items():
            key = ALIASES.get(key, key)
            if key in KEYS:
                raw[key] = value
            else:
                problems.append(f"{key}: unknown setting; known: {', '.join(KEYS)}")
    for key in KEYS:
        from_env = environ.get(env_name(key), "").strip()
        if from_env:
            raw[key] = from_env
    settings = _build(raw, problems)
    if problems:
        raise KafkaSettingsError(problems, source)
    return settings


def _build(raw: dict[str, str], problems: list[str]) -> KafkaSettings:
    protocol = raw.get("security.protocol", "PLAINTEXT").upper()
    if protocol not in PROTOCOLS:
        problems.append(f"security.protocol: {protocol!r} is not one of {', '.join(PROTOCOLS)}")
        protocol = "PLAINTEXT"
    sasl, tls = protocol.startswith("SASL_"), protocol in ("SSL", "SASL_SSL")
    mechanism = raw.get("sasl.mechanism", "PLAIN" if sasl else None)
    if mechanism is not None:
        mechanism = mechanism.upper()
        if mechanism not in MECHANISMS:
            problems.append(f"sasl.mechanism: {mechanism!r} is not one of {', '.join(MECHANISMS)}")
    for key in ("sasl.mechanism", "sasl.username", "sasl.password"):
        if not sasl and key in raw:
            problems.append(f"{key}: set, but security.protocol={protocol} uses no SASL")
        elif sasl and key not in raw and key != "sasl.mechanism":
            problems.append(f"{key}: required with security.protocol={protocol}")
    ssl_files = ("ssl.cafile", "ssl.certfile", "ssl.keyfile")
    for key in (*ssl_files, "ssl.key.password", "ssl.endpoint.identification.algorithm"):
        if not tls and key in raw:
            problems.append(f"{key}: set, but security.protocol={protocol} uses no TLS")
    registry_files = ("schema.registry.ssl.cafile", "schema.registry.ssl.certfile")
    for key in (*ssl_files, *registry_files, "schema.registry.ssl.keyfile"):
        if key in raw and not Path(raw[key]).is_file():
            problems.append(f"{key}: no such file {raw[key]!r}")
    if "ssl.keyfile" in raw and "ssl.certfile" not in raw:
        problems.append("ssl.keyfile: set without ssl.certfile (the certificate it belongs to)")
    algorithm = raw.get("ssl.endpoint.identification.algorithm", "https").lower()
    if algorithm not in ("https", "none", ""):
        problems.append(
            f"ssl.endpoint.identification.algorithm: {algorithm!r} is not https or none"
        )
    user_info = raw.get("schema.registry.basic.auth.user.info")
    if user_info is not None and ":" not in user_info:
        problems.append("schema.registry.basic.auth.user.info: expected USER:PASSWORD")
    replication = _positive(raw, "replication.factor", problems) or 1
    min_isr = _positive(raw, "min.insync.replicas", problems)
    if min_isr is not None and min_isr > replication:
        problems.append(
            f"min.insync.replicas: {min_isr} is above replication.factor {replication}: "
            "no write could ever be acknowledged"
        )
    return KafkaSettings(
        security_protocol=protocol,
        sasl_mechanism=mechanism if sasl else None,
        sasl_username=raw.get("sasl.username"),
        sasl_password=raw.get("sasl.password"),
        ssl_cafile=raw.get("ssl.cafile"),
        ssl_certfile=raw.get("ssl.certfile"),
        ssl_keyfile=raw.get("ssl.keyfile"),
        ssl_key_password=raw.get("ssl.key.password"),
        check_hostname=algorithm == "https",
        replication_factor=replication,
        min_insync_replicas=min_isr,
        registry_user_info=user_info,
        registry_cafile=raw.get("schema.registry.ssl.cafile"),
        registry_certfile=raw.get("schema.registry.ssl.certfile"),
        registry_keyfile=raw.get("schema.registry.ssl.keyfile"),
    )


def _positive(raw: Mapping[str, str], key: str, problems: list[str]) -> int | None:
    if key not in raw:
        return None
    try:
        value = int(raw[key])
    except ValueError:
        value = 0
    if value < 1:
        problems.append(f"{key}: {raw[key]!r} is not a whole number >= 1")
        return None
    return value


@functools.cache
def current() -> KafkaSettings:
    """This process's settings, read once (KafkaSettingsError if they are wrong)."""
    return load()
