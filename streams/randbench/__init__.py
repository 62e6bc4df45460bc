"""A randomised detection benchmark that the project's own simulator cannot flatter (issue 15).

One seed draws a 16-day background with social structure (schools, families, friend graphs,
group chats, carrier NAT) and many randomised instances of every attack pattern and benign
look-alike kind, each from parameter ranges; the truth names every account, device and IP an
instance owns. `score` counts, per pattern, instances caught at HIGH+ and how many distinct
minors they had reached by then (from the events, not from the alerts' own counts).

Layout: `world` (accounts, infrastructure, the event recorder), `social` and `everyday` (the
background), `instance` (what an instance owns, its truth), `attacks`, `extra_attacks`,
`adaptive` and `probing` (attackers just under each detector's thresholds), `lookalikes` and
`benign_reach`, `generate` (one seed), `score` (truth + alerts -> table), `bench` (several
seeds in-process), `commands` (the CLI's part). Pure: no wall clock, no global random; the
same seed and size give the same events and truth.
"""

from __future__ import annotations

from streams.randbench.generate import Generated, generate
from streams.randbench.instance import InstanceTruth, read_instances, write_instances
from streams.randbench.score import BenchScore, format_table, score_seed

__all__ = [
    "BenchScore",
    "Generated",
    "InstanceTruth",
    "format_table",
    "generate",
    "read_instances",
    "score_seed",
    "write_instances",
]
