"""Speed work must not change a single alert: the backtest of two default simulations, as
JSON Lines (emission clock fixed at 0), hashed and compared with the hash the code gave before.

When a change is *meant* to change alerts (a detector's logic, the simulator), regenerate with
`python -m tests.test_backtest_golden` and say why in the commit.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from streams.config import load_config
from streams.jsonl import alert_to_json
from streams.simulate import SimulationConfig, simulate

GOLDEN = Path(__file__).parent / "data" / "backtest_golden.json"
SEEDS = (1, 7)
EVENTS = 20_000


def alerts_digest(seed: int) -> dict[str, object]:
    events = simulate(SimulationConfig(seed=seed, events_target=EVENTS)).events[:EVENTS]
    engine = load_config().new_engine(clock_ms=lambda: 0)
    alerts = engine.process_all(sorted(events, key=lambda e: (e.ts_ms, e.event_id)))
    lines = "".join(json.dumps(alert_to_json(a), sort_keys=True) + "\n" for a in alerts)
    return {"alerts": len(alerts), "sha256": hashlib.sha256(lines.encode()).hexdigest()}


def test_backtest_alerts_are_byte_for_byte_the_golden_ones() -> None:
    golden = json.loads(GOLDEN.read_text())
    for seed in SEEDS:
        got = alerts_digest(seed)
        assert got["alerts"] > 10, "the simulation must reach alerts for this to mean anything"
        assert got == golden[str(seed)], f"seed {seed}: alerts changed"


if __name__ == "__main__":
    GOLDEN.write_text(json.dumps({str(s): alerts_digest(s) for s in SEEDS}, indent=2) + "\n")
    print(GOLDEN.read_text())
