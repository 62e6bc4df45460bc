"""`guardline eval --randomised`: generate, backtest and score several seeds in-process.

Seeds run in worker processes (at most `jobs` at once); each reports on stderr when done.
"""

from __future__ import annotations

import multiprocessing
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from streams.randbench.generate import DEFAULT_ACCOUNTS, DEFAULT_INSTANCES, generate
from streams.randbench.score import BenchScore, SeedScore, score_seed


def parse_seeds(text: str) -> list[int]:
    """ "101-105", "1,3,7" or a mix ("1-3,9")."""
    seeds: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        try:
            if sep:
                a, b = int(lo), int(hi)
                if b < a:
                    raise ValueError(part)
                seeds.extend(range(a, b + 1))
            else:
                seeds.append(int(part))
        except ValueError:
            raise ValueError(
                f"--seeds {text!r}: {part!r} is not a seed or a range like 101-105"
            ) from None
    if not seeds:
        raise ValueError(f"--seeds {text!r}: no seeds")
    return seeds


def run_seed(
    seed: int,
    config_path: str | None = None,
    accounts: int = DEFAULT_ACCOUNTS,
    instances: int = DEFAULT_INSTANCES,
) -> SeedScore:
    from streams.backtest import run_backtest
    from streams.config import Mode, load_config

    started = time.monotonic()
    config = load_config(config_path)
    gen = generate(seed, accounts=accounts, instances=instances, config=config)
    enforced = {s.detector.name for s in config.detectors if s.mode is Mode.ENFORCE}
    alerts = [a for a in run_backtest(gen.events, config) if a.detector in enforced]
    score = score_seed(seed, gen.truth, gen.events, alerts, gen.background_accounts)
    seconds = time.monotonic() - started
    print(
        f"[eval] seed {seed}: {len(gen.events)} events, {len(gen.truth)} instances, "
        f"{len(alerts)} alerts in {seconds:.0f} s",
        file=sys.stderr,
        flush=True,
    )
    return SeedScore(
        score.seed,
        score.instances,
        score.background_accounts,
        score.background_flagged,
        score.background_detectors,
        events=len(gen.events),
        seconds=seconds,
    )


def run_bench(
    seeds: Sequence[int],
    config_path: str | Path | None = None,
    *,
    jobs: int = 2,
    accounts: int = DEFAULT_ACCOUNTS,
    instances: int = DEFAULT_INSTANCES,
    command: str = "",
) -> BenchScore:
    path = None if config_path is None else str(config_path)
    args = [(seed, path, accounts, instances) for seed in seeds]
    if jobs <= 1 or len(seeds) == 1:
        results = [run_seed(*a) for a in args]
    else:
        with multiprocessing.get_context("spawn").Pool(min(jobs, len(seeds))) as pool:
            results = pool.starmap(run_seed, args)
    return BenchScore(tuple(results), command=command)
