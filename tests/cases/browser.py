"""A headless Debian chromium driven through chromedriver's WebDriver HTTP API (stdlib only)."""

from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # the W3C WebDriver element key


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Browser:
    def __init__(self, base: str, session: str) -> None:
        self.base = f"{base}/session/{session}"

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.base + path, data=data, method=method,
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(req, timeout=60) as resp:
            return json.load(resp)["value"]

    def get(self, url: str) -> None:
        self._call("POST", "/url", {"url": url})

    def find_all(self, css: str) -> list[str]:
        found = self._call("POST", "/elements", {"using": "css selector", "value": css})
        if not isinstance(found, list):
            raise AssertionError(f"chromedriver: {found}")
        return [e[ELEMENT] for e in found]

    def find(self, css: str) -> str:
        found = self.find_all(css)
        if not found:
            raise AssertionError(f"no element matches {css!r} on {self.url()}")
        return found[0]

    def click(self, css: str) -> None:
        self._call("POST", f"/element/{self.find(css)}/click", {})

    def text(self, css: str) -> str:
        return str(self._call("GET", f"/element/{self.find(css)}/text"))

    def text_becomes(self, css: str, want: str, timeout_s: float = 30.0) -> str:
        """The text of `css` once it equals `want` (or the last one read at the timeout): after
        a click that submits a form, the old page's element goes stale while the new one loads."""
        deadline = time.monotonic() + timeout_s
        seen = ""
        while True:
            try:
                seen = self.text(css)
            except (urllib.error.HTTPError, AssertionError):  # stale, or not there yet
                seen = ""
            if seen == want or time.monotonic() > deadline:
                return seen
            time.sleep(0.2)

    def attribute(self, element: str, name: str) -> str | None:
        value = self._call("GET", f"/element/{element}/attribute/{name}")
        return None if value is None else str(value)

    def url(self) -> str:
        return str(self._call("GET", "/url"))

    def screenshot(self) -> bytes:
        return base64.b64decode(self._call("GET", "/screenshot"))


@contextmanager
def headless_chromium() -> Iterator[Browser]:
    driver, chromium = shutil.which("chromedriver"), shutil.which("chromium")
    if not driver or not chromium:
        raise AssertionError(
            "Debian's chromium and chromium-driver are needed (./dev test installs them)"
        )
    port = _free_port()
    proc = subprocess.Popen(
        [driver, f"--port={port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(base + "/status", timeout=2) as resp:
                    if json.load(resp)["value"]["ready"]:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("chromedriver did not become ready")
            time.sleep(0.2)
        options = {
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,1700"],
        }  # fmt: skip
        caps = {"capabilities": {"alwaysMatch": {"goog:chromeOptions": options}}}
        req = urllib.request.Request(
            base + "/session", data=json.dumps(caps).encode(), method="POST",
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(req, timeout=90) as resp:
            session = json.load(resp)["value"]["sessionId"]
        browser = Browser(base, session)
        try:
            yield browser
        finally:
            urllib.request.urlopen(
                urllib.request.Request(f"{base}/session/{session}", method="DELETE"), timeout=30
            ).close()
    finally:
        proc.terminate()
        proc.wait(10)
