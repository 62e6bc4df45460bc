"""Every operator mistake gives one line and the documented exit code (`guardline --help`),
never a traceback and never a long wait: the cluster check gives up after --connect-timeout."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from streams.cli import EXIT_CODES, main
from tests.test_reach import listener, silent

KAFKA_COMMANDS = [
    ["topics"],
    ["produce", "EVENTS"],
    ["alerts", "tail"],
    ["alerts", "export", "-o", "OUT"],
    ["worker", "--data-dir", "OUT"],
]


def run(args: list[str], cwd: Path) -> tuple[int, str, str]:
    """`guardline ARGS` in its own process; 10 s is only a guard against a hang."""
    done = subprocess.run(
        [sys.executable, "-m", "streams", *args],
        capture_output=True, text=True, cwd=cwd, timeout=10,
    )  # fmt: skip
    return done.returncode, done.stdout, done.stderr


@pytest.mark.parametrize("command", KAFKA_COMMANDS, ids=" ".join)
def test_a_cluster_that_does_not_answer_is_one_line_and_exit_3(
    command: list[str], tmp_path: Path
) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text("")
    args = [{"EVENTS": str(events), "OUT": str(tmp_path / "out")}.get(a, a) for a in command]
    with listener(silent) as address:
        code, out, err = run([*args, "--bootstrap", address, "--connect-timeout", "1"], tmp_path)
    assert code == 3, err
    assert out == "" and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"error: cannot reach the Kafka cluster at {address}")
    assert "no answer within 1 s" in err  # the timeout given is the one used


@pytest.mark.parametrize(
    "command",
    [
        ["produce", "missing.jsonl", "--bootstrap", "127.0.0.1:1"],
        ["backtest", "missing.jsonl", "-o", "alerts.jsonl"],
        ["eval", "missing.jsonl", "--truth", "truth.jsonl"],
    ],
    ids=lambda c: c[0],
)
def test_a_missing_input_file_is_one_line_and_exit_2(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "truth.jsonl").write_text("")
    assert main([str(tmp_path / a) if a.endswith(".jsonl") else a for a in command]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {tmp_path / 'missing.jsonl'} does not exist (expected a file to read)\n"


def test_an_unwritable_output_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text("")
    out = tmp_path / "no" / "such" / "dir" / "alerts.jsonl"
    assert main(["backtest", str(events), "-o", str(out)]) == 2
    assert capsys.readouterr().err == f"error: {out}: no such file or directory\n"


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"[engine]\n# caf\xe9\n", "not UTF-8 text (byte 14); TOML is UTF-8"),
        (b"[engine\n", "not valid TOML"),
        (None, "cannot read"),
    ],
    ids=["latin-1", "not-toml", "directory"],
)
def test_an_unreadable_config_is_one_line_and_exit_2(
    content: bytes | None, says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "guardline.toml"
    if content is None:
        config.mkdir()
    else:
        config.write_bytes(content)
    events = tmp_path / "events.jsonl"
    events.write_text("")
    code = main(["backtest", str(events), "-o", str(tmp_path / "a"), "--config", str(config)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert err.startswith(f"error: invalid Guardline config ({config}): ") and says in err


@pytest.mark.broker
def test_tailing_an_unknown_topic_is_one_line_and_exit_2(
    bootstrap: str, tmp_path: Path, unique_suffix: str
) -> None:
    topic = f"no-such-topic-{unique_suffix}"
    code, out, err = run(["alerts", "tail", "--topic", topic, "--bootstrap", bootstrap], tmp_path)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert f"topic {topic!r} does not exist on {bootstrap}" in err
    assert "guardline.alerts.priority.v1" in err


def test_the_exit_codes_are_documented_in_the_help() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "streams", "--help"], capture_output=True, text=True, check=True
    )
    assert EXIT_CODES in done.stdout
    for code in ("0", "1", "2", "3"):
        assert f"\n  {code}  " in EXIT_CODES
