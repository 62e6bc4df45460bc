"""The case view's HTTP server: the standard library's, server-rendered pages, no scripts.

Local by default. Bound anywhere else it needs a token (`GUARDLINE_CASES_TOKEN`), sent as a
bearer token or as the password of HTTP basic auth; every POST carries a CSRF token (a secret
made at start, compared in constant time) and must come from this origin when the browser says
where it comes from.
"""

from __future__ import annotations

import base64
import hmac
import json
import logging
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from streams.cases import pages
from streams.cases.graph import case_graph, to_svg
from streams.cases.store import STATUSES, CaseFilter, CaseStore
from streams.model import Action, Decision, Subject, SubjectKind

log = logging.getLogger(__name__)

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
TOKEN_ENV = "GUARDLINE_CASES_TOKEN"

DecisionSink = Callable[[Decision], None]
BundleMaker = Callable[[str], bytes]


class BindRefused(Exception):
    """A non-local bind without credentials."""


def check_bind(host: str, token: str | None) -> None:
    if host not in LOCAL_HOSTS and not token:
        raise BindRefused(
            f"refusing to serve cases on {host}: set {TOKEN_ENV} (token or basic-auth password) "
            "to bind anywhere but 127.0.0.1"
        )


class CaseServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        host: str,
        port: int,
        store: CaseStore,
        *,
        decide: DecisionSink,
        bundle: BundleMaker | None = None,
        token: str | None = None,
        moderator: str = "web",
    ) -> None:
        check_bind(host, token)
        super().__init__((host, port), _Handler)
        self.store = store
        self.decide = decide
        self.bundle = bundle
        self.token = token
        self.moderator = moderator
        self.csrf = secrets.token_urlsafe(32)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}/"

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="cases-web", daemon=True)
        thread.start()
        return thread


class _Handler(BaseHTTPRequestHandler):
    server: CaseServer
    server_version = "guardline-cases"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("cases web: " + format, *args)  # paths carry case ids: debug only

    # --- auth ----------------------------------------------------------------------------------

    def _authorised(self) -> bool:
        token = self.server.token
        if not token:
            return True
        header = self.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        offered = ""
        if scheme.lower() == "bearer":
            offered = value.strip()
        elif scheme.lower() == "basic":
            try:
                offered = base64.b64decode(value.strip()).decode().partition(":")[2]
            except (ValueError, UnicodeDecodeError):
                offered = ""
        if hmac.compare_digest(offered.encode(), token.encode()):
            return True
        self.send_response(HTTPStatus.UNAUTHORIZED)
        self.send_header("WWW-Authenticate", 'Basic realm="guardline cases"')
        self.send_header("Content-Length", "0")
        self.end_headers()
        return False

    # --- responses -----------------------------------------------------------------------------

    def _send(
        self, status: int, body: bytes, ctype: str, extra: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("Content-Security-Policy", "default-src 'self'; style-src 'unsafe-inline'")
        self.send_header("Cache-Control", "no-store")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _html(self, text: str, status: int = HTTPStatus.OK) -> None:
        self._send(status, text.encode(), "text/html; charset=utf-8")

    def _error(self, status: int, message: str) -> None:
        self._send(status, message.encode() + b"\n", "text/plain; charset=utf-8")

    # --- GET -----------------------------------------------------------------------------------

    def do_GET(self) -> None:
        if not self._authorised():
            return
        url = urlsplit(self.path)
        parts = [unquote(p) for p in url.path.split("/") if p]
        store = self.server.store
        if not parts:
            query = {k: v[0] for k, v in parse_qs(url.query).items() if v and v[0]}
            self._html(pages.case_list(store.list_cases(_filter(query)), _detectors(store), query))
        elif parts == ["healthz"]:
            self._send(HTTPStatus.OK, b"ok\n", "text/plain")
        elif len(parts) >= 2 and parts[0] == "case" and store.case(parts[1]) is not None:
            self._case(parts[1], parts[2:])
        else:
            self._error(HTTPStatus.NOT_FOUND, "not found")

    def _case(self, alert_id: str, rest: list[str]) -> None:
        store = self.server.store
        if rest == ["graph.svg"]:
            self._send(HTTPStatus.OK, to_svg(case_graph(store, alert_id)).encode(), "image/svg+xml")
        elif rest == ["graph.json"]:
            doc = json.dumps(case_graph(store, alert_id).to_json(), indent=1).encode()
            self._send(HTTPStatus.OK, doc, "application/json")
        elif rest == ["bundle"] and self.server.bundle is not None:
            data = self.server.bundle(alert_id)
            disposition = f'attachment; filename="case-{alert_id}.zip"'
            self._send(HTTPStatus.OK, data, "application/zip", {"Content-Disposition": disposition})
        elif not rest:
            case = store.case(alert_id)
            assert case is not None
            self._html(
                pages.case_page(
                    case,
                    store.revisions(alert_id),
                    store.decisions(alert_id),
                    store.nodes(alert_id),
                    to_svg(case_graph(store, alert_id)),
                    self.server.csrf,
                )
            )
        else:
            self._error(HTTPStatus.NOT_FOUND, "not found")

    # --- POST ----------------------------------------------------------------------------------

    def do_POST(self) -> None:
        if not self._authorised():
            return
        parts = [unquote(p) for p in urlsplit(self.path).path.split("/") if p]
        length = int(self.headers.get("Content-Length") or 0)
        if length > 64 * 1024:
            self._error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "too large")
            return
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        if not self._same_origin() or not hmac.compare_digest(
            form.get("csrf", "").encode(), self.server.csrf.encode()
        ):
            self._error(HTTPStatus.FORBIDDEN, "missing or wrong CSRF token")
            return
        store = self.server.store
        if len(parts) != 3 or parts[0] != "case" or parts[2] != "decide":
            self._error(HTTPStatus.NOT_FOUND, "not found")
            return
        case = store.case(parts[1])
        if case is None:
            self._error(HTTPStatus.NOT_FOUND, "no such case")
            return
        try:
            action = Action(form.get("action", ""))
        except ValueError:
            self._error(HTTPStatus.BAD_REQUEST, "action must be CONFIRM, CLEAR or ESCALATE")
            return
        decision = decision_for(case, action, self.server.moderator, form.get("note", "")[:500])
        try:
            self.server.decide(decision)
        except Exception as err:  # Kafka down: say so, record nothing
            log.warning("decision not sent: %s", type(err).__name__)
            self._error(HTTPStatus.SERVICE_UNAVAILABLE, "the decisions topic is unreachable; retry")
            return
        store.add_decision(decision)
        self._send(HTTPStatus.SEE_OTHER, b"", "text/plain", {"Location": f"/case/{parts[1]}"})

    def _same_origin(self) -> bool:
        origin = self.headers.get("Origin")
        if origin is None or origin == "null":
            return origin is None
        return urlsplit(origin).netloc == self.headers.get("Host", "")


def decision_for(case: dict[str, Any], action: Action, moderator: str, note: str = "") -> Decision:
    """A decision on a stored case; it applies from the case's latest event time (what the
    moderator saw), and a clear suppresses the detector on the subject from there on."""
    return Decision(
        decision_id=f"d-{uuid.uuid4().hex}",
        alert_id=case["alert_id"],
        detector=case["detector"],
        subject=Subject(SubjectKind(case["subject_kind"]), case["subject_id"]),
        action=action,
        effective_ts_ms=int(case["last_ts_ms"]),
        decided_at_ms=int(time.time() * 1000),
        moderator=moderator,
        note=note,
    )


def _filter(query: dict[str, str]) -> CaseFilter:
    since = query.get("since")
    since_ms = None
    if since:
        try:
            day = datetime.strptime(since, "%Y-%m-%d").replace(tzinfo=UTC)
            since_ms = int(day.timestamp() * 1000)
        except ValueError:
            since_ms = None
    status = query.get("status")
    return CaseFilter(
        detector=query.get("detector"),
        severity=query.get("severity"),
        subject_kind=query.get("kind"),
        status=status if status in STATUSES else None,
        since_ms=since_ms,
    )


def _detectors(store: CaseStore) -> list[str]:
    return sorted({c["detector"] for c in store.list_cases(CaseFilter(limit=1000))})
