"""A throwaway local Prometheus scraping Guardline workers (demo `--prometheus` and tests).

Uses the `prometheus` binary on PATH (Debian: `apt-get install prometheus`), a temporary
config and storage directory, and a port of its own on 127.0.0.1. The repository's rules are
loaded too, so the demo shows them evaluated on live data.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from streams.ops.launcher import free_port

RULES = Path(__file__).resolve().parents[2] / "deploy/prometheus/guardline-rules.yml"
INSTALL_HINT = "install it with `apt-get install prometheus` (Debian/Ubuntu)"


def prometheus_binary() -> str:
    path = shutil.which("prometheus")
    if path is None:
        raise RuntimeError(f"the `prometheus` binary is not on PATH: {INSTALL_HINT}")
    return path


class LocalPrometheus:
    """Scrapes `targets` (host:port) every `scrape_interval_s` as job "guardline"."""

    def __init__(
        self,
        targets: list[str],
        work_dir: Path,
        *,
        port: int | None = None,
        scrape_interval_s: float = 1.0,
    ) -> None:
        self.targets = targets
        self.work_dir = work_dir
        self.port = port or free_port()
        self.scrape_interval_s = scrape_interval_s
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = work_dir / "prometheus.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _config(self) -> str:
        interval = f"{max(1, round(self.scrape_interval_s * 1000))}ms"
        rules = [str(RULES)] if RULES.exists() else []
        return json.dumps(  # JSON is valid YAML
            {
                "global": {"scrape_interval": interval, "evaluation_interval": interval},
                "rule_files": rules,
                "scrape_configs": [
                    {
                        "job_name": "guardline",
                        "metrics_path": "/metrics",
                        "static_configs": [{"targets": self.targets}],
                    }
                ],
            },
            indent=2,
        )

    def start(self, timeout_s: float = 30.0) -> LocalPrometheus:
        binary = prometheus_binary()
        self.work_dir.mkdir(parents=True, exist_ok=True)
        config = self.work_dir / "prometheus.yml"
        config.write_text(self._config())
        cmd = [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={self.work_dir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--log.level=warn",
        ]
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while not self._ready():
            if self.proc.poll() is not None:
                tail = self.log_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"prometheus exited with {self.proc.returncode}:\n{tail}")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"prometheus not ready after {timeout_s:.0f}s")
            time.sleep(0.2)
        return self

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as resp:
                return int(resp.status) == 200
        except (urllib.error.URLError, OSError):
            return False

    def api(self, path: str, **params: str) -> Any:
        """GET /api/v1/<path>; returns `data`, raises on a PromQL or HTTP error."""
        query = urllib.parse.urlencode(params)
        url = f"{self.url}/api/v1/{path}" + (f"?{query}" if query else "")
        try:
            with urllib.request.urlopen(url, timeout=10) as resp:
                body = json.loads(resp.read())
        except urllib.error.HTTPError as err:
            raise RuntimeError(f"{path} {params}: {err.read().decode(errors='replace')}") from err
        if body.get("status") != "success":
            raise RuntimeError(f"{path} {params}: {body}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Instant query: the result vector (empty = no data)."""
        data = self.api("query", query=expr)
        result: list[dict[str, Any]] = data["result"]
        return result

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> LocalPrometheus:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
