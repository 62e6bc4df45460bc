"""The CLI: every command documents itself, and the offline commands work on real files."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from streams.cli import build_parser, main

COMMANDS = [
    ["broker"], ["topics"], ["produce"], ["simulate"], ["worker"], ["alerts"],
    ["alerts", "tail"], ["alerts", "export"], ["backtest"], ["eval"], ["demo"], ["dashboard"],
    ["bench"], ["cases"], ["cases", "serve"], ["cases", "decide"], ["cases", "export"],
    ["cases", "decisions"],
]  # fmt: skip


def test_top_level_help_lists_every_command() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "streams", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for cmd in {c[0] for c in COMMANDS}:
        assert cmd in out


@pytest.mark.parametrize("cmd", COMMANDS, ids=" ".join)
def test_every_command_has_help(cmd: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([*cmd, "--help"])
    assert exit_info.value.code == 0
    assert "usage: guardline " + " ".join(cmd) in capsys.readouterr().out


def test_commands_needing_kafka_say_how_to_get_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("GUARDLINE_BOOTSTRAP_SERVERS", raising=False)
    assert main(["topics", "--list"]) == 2
    assert "GUARDLINE_BOOTSTRAP_SERVERS" in capsys.readouterr().err


def test_simulate_then_backtest_reports_bad_lines_and_keeps_good_ones(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    assert main(["simulate", "-o", str(events), "--seed", "3"]) == 0
    assert (tmp_path / "events.truth.jsonl").exists()
    with events.open("a") as fh:
        fh.write('{"event_id": "x", "type": "MESSAGE_SENT"}\n')
    alerts = tmp_path / "alerts.jsonl"
    assert main(["backtest", str(events), "-o", str(alerts)]) == 1  # non-zero: a bad line
    rows = [json.loads(line) for line in alerts.read_text().splitlines()]
    assert rows and all(r["detector"] and r["reason"] and r["alert_id"] for r in rows)
    truth = str(tmp_path / "events.truth.jsonl")
    assert main(["eval", str(alerts), "--truth", truth]) == 0


def test_bad_config_fails_fast_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[detectors.new_contact_burst]\nfast_high = "lots"\nfast_hihg = 3\n')
    events = tmp_path / "e.jsonl"
    events.write_text("")
    assert (
        main(["backtest", str(events), "-o", str(tmp_path / "a.jsonl"), "--config", str(cfg)]) == 2
    )
    err = capsys.readouterr().err
    assert "detectors.new_contact_burst.fast_high" in err and "must be an integer" in err
    assert "detectors.new_contact_burst.fast_hihg: unknown key" in err


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "soon"])
def test_worker_refuses_a_bad_idle_timeout(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["worker", "--idle-after", value])
    assert exit_info.value.code == 2
    assert "--idle-after" in capsys.readouterr().err


def test_worker_idle_timeout_defaults_to_the_routers() -> None:
    from streams.pipeline.route import IDLE_AFTER_S

    assert build_parser().parse_args(["worker"]).idle_after == IDLE_AFTER_S
    assert build_parser().parse_args(["worker", "--idle-after", "2.5"]).idle_after == 2.5


@pytest.mark.parametrize("flag", ["--rocksdb-write-buffer-mib", "--rocksdb-block-cache-mib"])
def test_worker_store_memory_flags_default_to_the_settings_and_refuse_non_positive(
    flag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from streams.adapters.faust.settings import WorkerSettings
    from streams.config import load_config

    name = flag.removeprefix("--").replace("-", "_")
    defaults = WorkerSettings(bootstrap="", config=load_config(None))
    assert getattr(build_parser().parse_args(["worker"]), name) == getattr(defaults, name)
    assert getattr(build_parser().parse_args(["worker", flag, "32"]), name) == 32
    for bad in ("0", "-4", "1.5", "lots"):
        with pytest.raises(SystemExit):
            build_parser().parse_args(["worker", flag, bad])
        assert flag in capsys.readouterr().err


def test_the_soak_probe_interval_refuses_non_positive_seconds(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert build_parser().parse_args(["bench", "--soak-probe-every", "2.5"]).soak_probe_every == 2.5
    for bad in ("0", "-1", "inf", "often"):
        with pytest.raises(SystemExit):
            build_parser().parse_args(["bench", "--soak-probe-every", bad])
        assert "is not a positive number of seconds" in capsys.readouterr().err


def _children(pid: int) -> set[int]:
    """Descendants of `pid`, from /proc."""
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        parents, frontier = frontier, set()
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) in parents:
                child = int(stat.parent.name)
                if child not in found:
                    found.add(child)
                    frontier.add(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.broker
def test_sigterm_stops_the_embedded_broker_a_command_started(tmp_path: Path) -> None:
    """`timeout guardline demo` must not leave noida-db running (and holding its port)."""
    log = (tmp_path / "bench.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streams", "bench", "--events", "3000", "--state-events", "1000"],
        stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while "1/6" not in (tmp_path / "bench.log").read_text() and time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "bench.log").read_text()
            time.sleep(0.2)
        children = _children(proc.pid)
        assert children, "the bench should have started its broker"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 128 + signal.SIGTERM
        deadline = time.monotonic() + 30
        while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [pid for pid in children if _alive(pid)], "orphaned broker or worker"
    finally:
        if proc.poll() is None:
            proc.kill()


def test_backtest_summary_progress_and_operator_mistakes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import gzip

    from streams.jsonl import event_to_json, write_jsonl
    from streams.simulate import SimulationConfig, simulate

    events = tmp_path / "events.jsonl"
    sim = simulate(SimulationConfig(seed=1, events_target=10_000)).events[:4_000]
    write_jsonl(events, (event_to_json(e) for e in sim))
    packed = tmp_path / "events.gz"  # recognised by its bytes, not its name
    packed.write_bytes(gzip.compress(events.read_bytes()))
    summary = tmp_path / "summary.json"
    capsys.readouterr()
    args = ["backtest", str(packed), "-o", str(tmp_path / "a.jsonl")]  # one job by default
    assert main([*args, "--summary-json", str(summary)]) == 0
    out, err = capsys.readouterr()
    doc = json.loads(summary.read_text())
    lines = len(events.read_text().splitlines())
    assert doc["events"] == lines and doc["bad_lines"] == 0 and doc["jobs"] == 1
    assert doc["alerts"] == len((tmp_path / "a.jsonl").read_text().splitlines()) > 0
    assert sum(doc["alerts_by_detector"].values()) == doc["alerts"]
    assert doc["order"].startswith("in order") and doc["peak_rss_bytes"] > 0
    assert f"{lines} events -> {doc['alerts']} alerts" in out and "order: in order" in out
    assert f"backtest {lines:,} lines" in err  # the progress line's last word
    for bad, message in (
        (["backtest", "-o", "x"], "needs an EVENTS file or --from-topic"),
        (["backtest", str(events), "--from-topic", "-o", "x"], "not both"),
        (["backtest", str(events), "--since", "0", "-o", "x"], "--since and --until select"),
        (["backtest", str(tmp_path / "nope"), "-o", "x"], "nope does not exist"),
        ([*args, "--jobs", "0"], "--jobs 0: need at least 1"),
    ):
        assert main(bad) == 2
        assert message in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["backtest", "--from-topic", "--since", "yesterday", "-o", "x"])
    assert "not epoch ms or an ISO-8601 time with a zone" in capsys.readouterr().err
