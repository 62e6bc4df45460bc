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
same seed and size give the same events and truth. Import the modules themselves: this package
exports nothing, so no module here imports another through it (no import cycle).
"""
