"""A small Confluent Schema Registry client (stdlib HTTP), and the per-topic output headers.

Only the part of the registry API Guardline needs: register a schema under a subject
(`POST /subjects/{subject}/versions`) and fetch a schema by id (`GET /schemas/ids/{id}`), the
latter cached for the process, since ids never change meaning. Works with Confluent's registry
and with those that speak its API (Apicurio's ccompat endpoint, Redpanda, Karapace).

Basic auth (`schema.registry.basic.auth.user.info`, or `https://USER:PASSWORD@host` in the URL)
and the https CA and client certificate come from the Kafka settings (`kafka_settings.py`).
Credentials never appear in a message: URLs are shown without them.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from typing import Any, Final

from streams import kafka_settings, topics
from streams.codec import SCHEMA_DIR, RegistryUnavailable
from streams.wire import confluent_header, value_subject

REGISTRY_ENV: Final = "GUARDLINE_SCHEMA_REGISTRY_URL"
_CONTENT_TYPE: Final = "application/vnd.schemaregistry.v1+json"

# What Guardline writes, per output topic: the schema file registered under `<topic>-value`.
OUTPUT_SCHEMAS: Final = {
    topics.ALERTS.name: "alert.avsc",
    topics.PRIORITY.name: "alert.avsc",
    topics.SHADOW.name: "alert.avsc",
    topics.DEAD_LETTER.name: "dead_letter.avsc",
}


class RegistryError(RuntimeError):
    """A configuration or start-up problem with the schema registry; the message says which."""


def registry_url(cli_value: str | None, *, key: str = "--schema-registry") -> str | None:
    """The configured registry URL (flag first, then $GUARDLINE_SCHEMA_REGISTRY_URL), checked.

    None means no registry: Guardline then writes single-object encoding. A malformed URL
    fails here, at start, naming where it came from.
    """
    value, source = cli_value, key
    if value is None:
        value, source = os.environ.get(REGISTRY_ENV) or None, REGISTRY_ENV
    if value is None:
        return None
    parsed = urllib.parse.urlsplit(value)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise RegistryError(
            f"{source}: {redact(value)!r} is not a schema registry URL (expected "
            "http(s)://host:port)"
        )
    try:
        parsed.port  # noqa: B018 - raises on a non-numeric or out-of-range port
    except ValueError as exc:
        raise RegistryError(f"{source}: {redact(value)!r} has a bad port") from exc
    return value.rstrip("/")


def redact(url: str) -> str:
    """`url` without the user and password it may carry."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit(parts._replace(netloc=host))


class SchemaRegistry:
    """Registers and resolves schemas; `schema_text(id)` is what `streams.codec` calls."""

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 10.0,
        user_info: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        parts = urllib.parse.urlsplit(url.rstrip("/"))
        if user_info is None and parts.username is not None:
            user_info = urllib.parse.unquote(parts.username) + ":"
            user_info += urllib.parse.unquote(parts.password or "")
        self.url = redact(url.rstrip("/"))  # the only form that is ever shown
        self.timeout_s = timeout_s
        self.ssl_context = ssl_context
        self._headers = {"Accept": _CONTENT_TYPE, "Content-Type": _CONTENT_TYPE}
        if user_info is not None:
            token = base64.b64encode(user_info.encode()).decode()
            self._headers["Authorization"] = f"Basic {token}"
        self._by_id: dict[int, str] = {}

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers=self._headers
        )
        with urllib.request.urlopen(
            request, timeout=self.timeout_s, context=self.ssl_context
        ) as response:
            return json.loads(response.read())

    def check(self) -> None:
        """Fail fast with a clear message when the registry cannot be reached at start."""
        try:
            self._call("GET", "/subjects")
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise RegistryError(
                f"schema registry at {self.url} is unreachable ({_why(exc)}); check "
                f"--schema-registry / {REGISTRY_ENV}, or unset it to write single-object Avro"
            ) from exc

    def register(self, subject: str, schema: str) -> int:
        """Register `schema` under `subject` (idempotent: the same schema keeps its id)."""
        path = f"/subjects/{urllib.parse.quote(subject, safe='')}/versions"
        try:
            answer = self._call("POST", path, {"schema": schema, "schemaType": "AVRO"})
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise RegistryError(
                f"schema registry at {self.url} refused subject {subject}: {_why(exc)}"
            ) from exc
        schema_id = int(answer["id"])
        self._by_id[schema_id] = schema
        return schema_id

    def schema_text(self, schema_id: int) -> str:
        """The schema registered under `schema_id`: LookupError if the registry has none,
        RegistryUnavailable if it cannot be asked right now."""
        cached = self._by_id.get(schema_id)
        if cached is not None:
            return cached
        try:
            answer = self._call("GET", f"/schemas/ids/{schema_id}")
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                raise LookupError(f"schema id {schema_id} is not in the registry") from exc
            raise RegistryUnavailable(f"registry answered {exc.code} for id {schema_id}") from exc
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise RegistryUnavailable(f"registry unreachable: {_why(exc)}") from exc
        text = str(answer["schema"])
        self._by_id[schema_id] = text
        return text


def _why(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code}: {exc.read()[:200].decode(errors='replace')}"
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    return f"{type(exc).__name__}: {exc}"


def register_outputs(
    registry: SchemaRegistry, output_topics: Iterable[str] = OUTPUT_SCHEMAS
) -> dict[str, bytes]:
    """Register each output topic's schema (`<topic>-value`); return its Confluent header."""
    headers: dict[str, bytes] = {}
    for topic in output_topics:
        schema = (SCHEMA_DIR / OUTPUT_SCHEMAS[topic]).read_text()
        headers[topic] = confluent_header(registry.register(value_subject(topic), schema))
    return headers


def connect(url: str) -> SchemaRegistry:
    """A registry client that has answered once (RegistryError otherwise), with the basic auth
    and TLS files of the Kafka settings."""
    cluster = kafka_settings.current()
    registry = SchemaRegistry(
        url, user_info=cluster.registry_user_info, ssl_context=cluster.registry_ssl_context()
    )
    registry.check()
    return registry
