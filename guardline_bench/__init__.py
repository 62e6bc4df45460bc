"""`guardline bench`: Guardline's speed next to its baselines, measured in one run.

Absolute rates on a shared machine are noise; ratios between figures measured in the same run,
on the same broker and the same events, are what the bench is for.
"""
