"""The Faust adapter: the only code that imports `faust`, `mode` or `aiokafka`.

`app.py` wires the pipeline's stages into a Faust app (agents, table, timers, rebalance
hooks); `consumer.py` makes Faust's commit rule strict; `intake.py` takes input records past
Faust's per-message path; `commits.py` finds offsets Faust lost track of in a rebalance.
"""
