"""A throwaway PostgreSQL cluster from Debian's packages, on a free port, for store tests.

initdb refuses to run as root, so as root the cluster belongs to the `postgres` user the
Debian package creates; it listens on 127.0.0.1 only, trusts local connections, and is
stopped and removed at the end.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from streams.ops.launcher import free_port


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise AssertionError(
            "Debian's postgresql is needed for the PostgreSQL store tests (./dev test installs it)"
        )
    return found[-1]


def _as_owner(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@contextmanager
def postgres_cluster() -> Iterator[str]:
    """Yields a DSN prefix `postgresql://guardline@127.0.0.1:PORT/` (append a database)."""
    work = Path(tempfile.mkdtemp(prefix="guardline-pg-"))
    data = work / "data"
    if os.geteuid() == 0:
        shutil.chown(work, "postgres")
    port = free_port()
    run = {"check": True, "capture_output": True, "timeout": 120}
    subprocess.run(
        _as_owner([_bin("initdb"), "-D", str(data), "-U", "guardline", "--auth=trust",
                   "-E", "UTF8", "--no-instructions"]),
        **run,  # type: ignore[arg-type]
    )  # fmt: skip
    options = f"-p {port} -k {work} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        _as_owner([_bin("pg_ctl"), "-D", str(data), "-o", options, "-l", str(work / "log"),
                   "-w", "start"]),
        **run,  # type: ignore[arg-type]
    )  # fmt: skip
    try:
        yield f"postgresql://guardline@127.0.0.1:{port}/"
    finally:
        subprocess.run(
            _as_owner([_bin("pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]),
            capture_output=True, timeout=60,
        )  # fmt: skip
        shutil.rmtree(work, ignore_errors=True)


def new_database(prefix: str) -> str:
    """A fresh, empty database in the cluster at `prefix`; its DSN."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(prefix + "postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return prefix + name
