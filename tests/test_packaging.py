"""A normal (non-editable) install carries the Avro schemas and its codec reads them.

Builds a wheel from exactly the files the Docker image gets (pyproject.toml, README.md, schemas/,
streams/), installs it into a directory of its own and encodes + decodes an event there, with
the installed copy first on the path (never this checkout). The build runs in pip's isolated
build environment: the setuptools a user's `pip install .` would get.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONTEXT = ("pyproject.toml", "README.md", "schemas", "streams")  # as the Dockerfile copies

ROUND_TRIP = """
import json, sys
sys.path.insert(0, sys.argv[1])
import streams
from streams import codec
from streams.model import Account, AgeBand, Event, EventType
event = Event("e-1", EventType.MESSAGE_SENT, 1_700_000_000_000, Account("u-1", AgeBand.AGE_21_PLUS),
              Account("u-2", AgeBand.AGE_13_15), first_contact=True)
print(json.dumps({"package": streams.__file__, "schemas": str(codec.SCHEMA_DIR),
                  "round_trip": codec.decode_event(codec.encode_event(event)) == event}))
"""


def _pip(*args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"pip {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"


@pytest.mark.slow
def test_a_built_wheel_carries_the_schemas_and_its_codec_reads_them(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for name in CONTEXT:
        path = ROOT / name
        if path.is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
            shutil.copytree(path, src / name, symlinks=True, ignore=ignore)
        else:
            shutil.copy2(path, src / name)
    _pip("wheel", str(src), "--no-deps", "--quiet", "--wheel-dir", str(tmp_path / "dist"))
    (wheel,) = (tmp_path / "dist").glob("guardline-*.whl")

    sources = {
        f"streams/schemas/{p.relative_to(ROOT / 'schemas').as_posix()}": p.read_bytes()
        for p in (ROOT / "schemas").rglob("*.avsc")
    }
    assert len(sources) >= 6  # three current schemas, three released ones
    with zipfile.ZipFile(wheel) as zf:
        assert set(sources) <= set(zf.namelist())
        for name, data in sources.items():
            assert zf.read(name) == data, name

    site = tmp_path / "site"
    _pip("install", "--no-deps", "--quiet", "--target", str(site), str(wheel))
    installed = site / "streams" / "schemas"
    assert installed.is_dir() and not installed.is_symlink()
    done = subprocess.run(
        [sys.executable, "-c", ROUND_TRIP, str(site)],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # not the checkout: `import streams` must find the installed copy
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert Path(found["package"]).is_relative_to(site), found
    assert Path(found["schemas"]) == installed.resolve(), found
    assert found["round_trip"] is True
