"""What `guardline simulate --randomised` and `guardline eval --randomised` do."""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from streams.model import Alert
from streams.randbench.generate import generate
from streams.randbench.instance import read_instances, write_instances
from streams.randbench.score import BenchScore, format_table, rows, score_seed


def simulate_randomised(
    seed: int, output: Path, truth: Path | None, config: Path | None, accounts: int, instances: int
) -> int:
    from streams.config import load_config
    from streams.jsonl import event_to_json, write_jsonl

    gen = generate(seed, accounts=accounts, instances=instances, config=load_config(config))
    write_jsonl(output, (event_to_json(e) for e in gen.events))
    truth_path = truth or output.with_suffix(".truth.jsonl")
    write_instances(truth_path, gen.truth)
    attacks = sum(1 for t in gen.truth if t.kind == "attack")
    print(
        f"wrote {len(gen.events)} events to {output} and ground truth to {truth_path} "
        f"({attacks} attack instances, {len(gen.truth) - attacks} look-alikes, "
        f"{gen.background_accounts} background accounts)"
    )
    return 0


def eval_randomised(
    seeds: Sequence[int],
    config: Path | None,
    json_out: Path | None,
    jobs: int,
    size: tuple[int, int],
    argv: Sequence[str],
) -> int:
    from streams.randbench.bench import run_bench

    command = "guardline " + " ".join(shlex.quote(a) for a in argv)
    print(f"[eval] {len(seeds)} seeds, {jobs} at a time", file=sys.stderr, flush=True)
    accounts, instances = size
    bench = run_bench(
        seeds, config, jobs=jobs, accounts=accounts, instances=instances, command=command
    )
    _report(bench, json_out)
    return 0


def eval_truth_file(
    alerts: list[Alert], truth: Path, events: Path | None, config: Path | None
) -> int:
    """Score a backtest's alerts against a randomised truth file and its events file; only
    alerts of detectors the config enforces count (a backtest also writes shadow ones)."""
    from streams.config import Mode, load_config
    from streams.jsonl import read_events
    from streams.model import Event

    enforced = {s.detector.name for s in load_config(config).detectors if s.mode is Mode.ENFORCE}
    alerts = [a for a in alerts if a.detector in enforced]
    entries = read_instances(truth)
    events_path = events or _events_beside(truth)
    evs = [e for _, e in read_events(events_path) if isinstance(e, Event)]
    owned = {a for t in entries for a in t.accounts}
    background = {e.actor.id for e in evs} - owned
    score = score_seed(0, entries, evs, alerts, len(background))
    note = f"(alerts of the {len(enforced)} detectors the config enforces; shadow ones left out)"
    _report(BenchScore((score,), notes=(note,)), None)
    return 0


def _events_beside(truth: Path) -> Path:
    name = truth.name
    if name.endswith(".truth.jsonl"):
        return truth.with_name(name[: -len(".truth.jsonl")] + ".jsonl")
    raise ValueError(f"{truth}: pass --events (cannot tell the events file from this name)")


def _report(bench: BenchScore, json_out: Path | None) -> None:
    print(format_table(bench))
    if json_out is not None:
        json_out.write_text(json.dumps(rows(bench), indent=2, sort_keys=True) + "\n")
