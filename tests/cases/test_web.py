"""The case view's HTTP rules, in process: CSRF on every POST, credentials beyond localhost."""

from __future__ import annotations

import base64
import io
import re
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.cases.bundle import bundle_zip, verify_manifest
from streams.cases.store import CaseStore
from streams.cases.web import BindRefused, CaseServer, check_bind
from streams.model import Action, Decision
from tests.cases.builders import attack_alerts

ALERTS = attack_alerts(children=6)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[CaseServer, list[Decision]]]:
    store = CaseStore.open(tmp_path / "cases.db")
    for a in ALERTS:
        store.add_alert(a)
    sent: list[Decision] = []
    server = CaseServer("127.0.0.1", 0, store, decide=sent.append, token=None)
    server.start()
    try:
        yield server, sent
    finally:
        server.shutdown()
        store.close()


def _open(
    url: str, data: dict[str, str] | None = None, headers: dict[str, str] | None = None
) -> tuple[int, str]:
    body = None if data is None else urllib.parse.urlencode(data).encode()
    req = urllib.request.Request(url, data=body, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def test_a_post_without_the_csrf_token_changes_nothing(
    served: tuple[CaseServer, list[Decision]],
) -> None:
    server, sent = served
    case_id = ALERTS[0].alert_id
    decide = f"{server.url}case/{case_id}/decide"
    assert _open(decide, {"action": "CLEAR"})[0] == 403
    assert _open(decide, {"action": "CLEAR", "csrf": "guess"})[0] == 403
    status, page = _open(f"{server.url}case/{case_id}")
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    assert status == 200 and token is not None
    cross_site = {"Origin": "http://evil.example"}
    assert _open(decide, {"action": "CLEAR", "csrf": token.group(1)}, cross_site)[0] == 403
    assert sent == []
    assert _open(decide, {"action": "CLEAR", "csrf": token.group(1)})[0] == 200  # after 303
    assert [(d.action, d.alert_id) for d in sent] == [(Action.CLEAR, case_id)]


def test_with_a_token_every_request_needs_it(tmp_path: Path) -> None:
    store = CaseStore.open(tmp_path / "cases.db")
    server = CaseServer("127.0.0.1", 0, store, decide=lambda d: None, token="s3cret")
    server.start()
    try:
        assert _open(server.url)[0] == 401
        assert _open(server.url, headers={"Authorization": "Bearer nope"})[0] == 401
        assert _open(server.url, headers={"Authorization": "Bearer s3cret"})[0] == 200
        basic = base64.b64encode(b"anyone:s3cret").decode()
        assert _open(server.url, headers={"Authorization": f"Basic {basic}"})[0] == 200
    finally:
        server.shutdown()


def test_binding_beyond_localhost_needs_credentials() -> None:
    with pytest.raises(BindRefused):
        check_bind("0.0.0.0", None)
    check_bind("0.0.0.0", "token")
    check_bind("127.0.0.1", None)


def test_the_bundle_button_serves_a_zip_whose_manifest_matches(tmp_path: Path) -> None:
    store = CaseStore.open(tmp_path / "cases.db")
    for a in ALERTS:
        store.add_alert(a)
    server = CaseServer(
        "127.0.0.1", 0, store, decide=lambda d: None, bundle=lambda c: bundle_zip(store, c, None)
    )
    server.start()
    case_id = ALERTS[0].alert_id
    try:
        with urllib.request.urlopen(f"{server.url}case/{case_id}/bundle", timeout=10) as resp:
            data = resp.read()
    finally:
        server.shutdown()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        zf.extractall(tmp_path / "unzipped")
    assert verify_manifest(tmp_path / "unzipped" / f"case-{case_id}") == []
