"""The pipeline without Kafka or Faust: synchronous stages behind a small typed port.

`route.py` (decode, dead-letter, re-key by subject), `envelope.py` (the routed record),
`detect.py` (watermarks, event-time release, detectors, cases per routed partition). An adapter
(`streams/adapters/`) feeds them records and carries out what they return.
"""
