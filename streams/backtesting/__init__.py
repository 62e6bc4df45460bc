"""`guardline backtest` at platform scale: streaming input, bounded memory, every core.

`source` reads lines (plain, gzip, zstd) or a topic range; `decode` turns them into events
fast; `order` applies them in (ts, event_id) order through the engine's release bound, or
through an external sort when the input is disordered beyond it; `shard` runs the engine on
one partition of the subjects, as the stream's detect stage does; `run` ties them together,
over one process or several, and merges the alerts in the order one process emits them.
"""
