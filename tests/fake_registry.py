"""An in-process fake of the Confluent Schema Registry HTTP API (the subset Guardline uses).

`POST /subjects/{subject}/versions`, `GET /schemas/ids/{id}`, `GET /subjects`, with the real
registry's behaviour that matters: ids are global, the same schema gets the same id under every
subject, unknown ids answer 404 with error code 40403. Runs an http.server in a thread.
"""

from __future__ import annotations

import base64
import json
import ssl
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


class FakeRegistry:
    def __init__(self) -> None:
        self.ids: dict[str, int] = {}  # normalised schema -> id
        self.schemas: dict[int, str] = {}  # id -> schema as registered first
        self.subjects: dict[str, list[int]] = {}  # subject -> ids of its versions
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.url = ""
        self.user_info: str | None = None  # set: every request needs this basic auth

    def register(self, subject: str, schema: str) -> int:
        key = json.dumps(json.loads(schema), sort_keys=True)
        with self.lock:
            schema_id = self.ids.get(key)
            if schema_id is None:
                schema_id = self.ids[key] = len(self.ids) + 1
                self.schemas[schema_id] = schema
            versions = self.subjects.setdefault(subject, [])
            if schema_id not in versions:
                versions.append(schema_id)
        return schema_id


def _handler(registry: FakeRegistry) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _answer(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", CONTENT_TYPE)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _refused(self) -> bool:
            if registry.user_info is None:
                return False
            token = base64.b64encode(registry.user_info.encode()).decode()
            if self.headers.get("Authorization") == f"Basic {token}":
                return False
            self._answer(401, {"error_code": 401, "message": "Unauthorized"})
            return True

        def do_GET(self) -> None:
            registry.requests.append(("GET", self.path))
            if self._refused():
                return
            parts = urllib.parse.urlsplit(self.path).path.strip("/").split("/")
            if parts == ["subjects"]:
                self._answer(200, sorted(registry.subjects))
            elif len(parts) == 3 and parts[:2] == ["schemas", "ids"] and parts[2].isdigit():
                schema = registry.schemas.get(int(parts[2]))
                if schema is None:
                    self._answer(404, {"error_code": 40403, "message": "Schema not found"})
                else:
                    self._answer(200, {"schema": schema})
            else:
                self._answer(404, {"error_code": 404, "message": "HTTP 404 Not Found"})

        def do_POST(self) -> None:
            registry.requests.append(("POST", self.path))
            if self._refused():
                return
            parts = urllib.parse.urlsplit(self.path).path.strip("/").split("/")
            if len(parts) != 3 or parts[0] != "subjects" or parts[2] != "versions":
                self._answer(404, {"error_code": 404, "message": "HTTP 404 Not Found"})
                return
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if body.get("schemaType", "AVRO") != "AVRO":
                self._answer(422, {"error_code": 42201, "message": "only AVRO here"})
                return
            try:
                schema_id = registry.register(urllib.parse.unquote(parts[1]), body["schema"])
            except (KeyError, ValueError):
                self._answer(422, {"error_code": 42201, "message": "Invalid schema"})
                return
            self._answer(200, {"id": schema_id})

    return Handler


@contextmanager
def fake_registry(
    user_info: str | None = None, tls: ssl.SSLContext | None = None
) -> Iterator[FakeRegistry]:
    """A running fake registry on 127.0.0.1 (a free port); `.url` is its base URL. With
    `user_info` it wants that basic auth; with `tls` (a server context) it speaks https."""
    registry = FakeRegistry()
    registry.user_info = user_info
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(registry))
    scheme = "http"
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    registry.url = f"{scheme}://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield registry
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
