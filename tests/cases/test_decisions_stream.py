"""A moderator's clear on the decisions topic reaches the worker and silences that detector on
that subject: the stream then publishes exactly what a backtest given the same decisions does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streams import topics
from streams.backtest import run_backtest
from streams.cases.commands import decision_sender
from streams.cli import main
from streams.config import load_config
from streams.jsonl import alert_from_json, event_to_json, read_decisions, write_jsonl
from streams.model import Action, Decision
from streams.produce import make_producer, send_events
from tests.cases.builders import attack
from tests.factories import HOUR, T0
from tests.streaming import committed_total, drained, read_alerts, running_worker, wait_for

pytestmark = [pytest.mark.broker, pytest.mark.slow]

CONFIG = load_config()
FIRST = attack("u-a", 20, T0)
LATER = (
    attack("u-a", 40, T0 + 3 * HOUR)[20:]
    + attack("u-a", 60, T0 + CONFIG.engine.clear_suppression_ms + 12 * HOUR)[40:]
)


def _published(bootstrap: str) -> set[tuple[str, int]]:
    return {(a.alert_id, a.revision) for a in read_alerts(bootstrap)}


def test_a_clear_reaches_the_worker_and_the_stream_equals_the_backtest(
    broker: str, tmp_path: Path
) -> None:
    first = run_backtest(FIRST, CONFIG)
    case = [a for a in first if a.detector == "minor_exposure"][-1]
    clear = Decision(
        "d-1", case.alert_id, case.detector, case.subject, Action.CLEAR, case.trigger_ts_ms, 1
    )
    # The oracle: the backtest of every event with the decisions file.
    expected = run_backtest(FIRST + LATER, CONFIG, [clear])
    assert expected != run_backtest(FIRST + LATER, CONFIG)  # the clear does change something
    producer = make_producer(broker)
    with running_worker(broker, tmp_path, "decide"):
        send_events(producer, FIRST)
        want = {(a.alert_id, a.revision) for a in first}
        wait_for(lambda: _published(broker) >= want, 90, "the first burst's alerts")
        decision_sender(broker)(clear)
        wait_for(
            lambda: committed_total(broker, "decide", topics.DECISIONS.name) == 1
            and drained(broker, "decide"),
            90, "the worker applying the decision",
        )  # fmt: skip
        send_events(producer, LATER)
        want = {(a.alert_id, a.revision) for a in expected}
        published = wait_for(
            lambda: (p := _published(broker)) >= want and drained(broker, "decide") and p,
            120, "the backtest's alerts on the topic",
        )  # fmt: skip
    assert published == want
    # The same through the files and commands an operator uses.
    events_file, decisions_file, alerts_file = (tmp_path / n for n in ("ev", "dec", "al"))
    write_jsonl(events_file, (event_to_json(e) for e in FIRST + LATER))
    assert main(["cases", "decisions", "--bootstrap", broker, "-o", str(decisions_file)]) == 0
    assert read_decisions(decisions_file) == [clear]
    args = [
        "backtest",
        str(events_file),
        "--decisions",
        str(decisions_file),
        "-o",
        str(alerts_file),
    ]
    assert main(args) == 0
    with alerts_file.open() as fh:
        from_file = {(a.alert_id, a.revision) for a in map(alert_from_json, map(json.loads, fh))}
    assert from_file == published
    after = [a for a in expected if a.trigger_ts_ms > clear.effective_ts_ms]
    silenced = [a for a in after if a.detector == "minor_exposure"]
    assert silenced and all(a.features["cleared_by_moderator"] == 1.0 for a in silenced)
    assert (
        min(a.trigger_ts_ms for a in silenced)
        > clear.effective_ts_ms + CONFIG.engine.clear_suppression_ms
    )
