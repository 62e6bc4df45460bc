"""Start, await and stop `guardline worker` processes (used by the demo, tests and bench).

A worker is always its own process, exactly as in production, so tests exercise the same
start-up, rebalance and shutdown paths a deployment does.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from streams.broker import BOOTSTRAP_ENV


def start_worker(
    bootstrap: str,
    work_dir: Path,
    *,
    app_id: str,
    name: str = "worker-1",
    extra: tuple[str, ...] = (),
    metrics_port: int = 0,
    module: str = "streams",
    env: dict[str, str] | None = None,
) -> tuple[subprocess.Popen[bytes], Path, Path]:
    """Start `guardline worker` as its own process; returns (process, ready file, log file).

    `metrics_port` 0 lets the OS pick the port of /metrics, so workers never collide; pass
    `free_port()` to know where to scrape. `module` runs the CLI through another module (a
    test's wrapper), `env` adds environment variables.
    """
    ready = work_dir / f"{name}.ready"
    log_path = work_dir / f"{name}.log"
    ready.unlink(missing_ok=True)
    cmd = [
        sys.executable, "-m", module, "worker",
        "--app-id", app_id,
        "--data-dir", str(work_dir / name),
        "--ready-file", str(ready),
        "--metrics-port", str(metrics_port),
        *extra,
    ]  # fmt: skip
    env = {**os.environ, **(env or {}), BOOTSTRAP_ENV: bootstrap}
    with log_path.open("ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    return proc, ready, log_path


def free_port(host: str = "127.0.0.1") -> int:
    """A port free right now (the OS's pick); tiny race with other processes, fine for tests."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_ready(
    proc: subprocess.Popen[bytes], ready: Path, log_path: Path, timeout_s: float
) -> None:
    deadline = time.monotonic() + timeout_s
    while not ready.exists():
        if proc.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"worker exited with {proc.returncode}:\n{tail}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"worker not ready after {timeout_s:.0f}s (log: {log_path})")
        time.sleep(0.1)


def stop_worker(proc: subprocess.Popen[bytes], timeout_s: float = 20.0) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
