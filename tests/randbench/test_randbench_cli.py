"""`guardline simulate --randomised` and `guardline eval` on its truth file, end to end."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.cli import main
from streams.randbench.instance import read_instances


def test_simulate_backtest_eval_randomised(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = tmp_path / "ev.jsonl"
    argv = ["simulate", "--randomised", "--seed", "4", "-o", str(events)]
    assert main([*argv, "--accounts", "300", "--instances", "1"]) == 0
    truth = tmp_path / "ev.truth.jsonl"
    entries = read_instances(truth)
    assert {t.kind for t in entries} == {"attack", "lookalike"}
    assert len({t.pattern for t in entries}) == len(entries)  # one instance of each
    alerts = tmp_path / "al.jsonl"
    assert main(["backtest", str(events), "-o", str(alerts)]) == 0
    capsys.readouterr()
    assert main(["eval", str(alerts), "--truth", str(truth)]) == 0
    out = capsys.readouterr().out
    assert "classic_burst" in out and "family_device" in out and "per 10,000" in out


def test_eval_randomised_rejects_bad_seeds(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "--randomised", "--seeds", "5-1"]) == 2
    assert "--seeds" in capsys.readouterr().err
