"""Real alerts for case tests: the backtest of hand-made attacks, so revisions are genuine."""

from __future__ import annotations

from streams.backtest import run_backtest
from streams.config import load_config
from streams.model import Alert, Event
from tests.factories import MIN, T0, adult, message, minor


def attack(attacker: str = "u-attacker", children: int = 20, t0: int = T0) -> list[Event]:
    """An anonymous adult first-contacting `children` minors, one a minute."""
    who = adult(attacker, anonymous=True)
    return [
        message(who, minor(f"m-{attacker}-{i}"), t0 + i * MIN, eid=f"{attacker}-{i}")
        for i in range(children)
    ]


def attack_alerts(attacker: str = "u-attacker", children: int = 20) -> list[Alert]:
    return run_backtest(attack(attacker, children), load_config())
