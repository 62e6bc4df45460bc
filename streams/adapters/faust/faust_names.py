"""The 14 private Faust names the adapter uses, checked once when the worker starts.

Faust gives no public way to do what `consumer.py` (a strict commit rule, a re-read that does
not race the fetch loop), `intake.py` (input in batches) and `app.py` (one table write context
per batch) do. A Faust release that renamed one of these names would otherwise switch a
guarantee off silently (several were read with `getattr(..., {})`): the worker refuses to start
instead, naming what is missing.
"""

from __future__ import annotations

from typing import Any

import faust.streams
from faust.transport.drivers.aiokafka import Consumer as FaustConsumer

# Set by Faust's Consumer.__init__: offset bookkeeping (consumer.py, commits.py, app.py), the
# fetch loop's delivery state (intake.py), and the aiokafka thread the seek goes through
# (consumer.py: partitions with nothing committed).
CONSUMER_STATE = (
    "_acked",
    "_acked_index",
    "_committed_offset",
    "_gap",
    "_unacked_messages",
    "_read_offset",
    "_active_partitions",
    "_buffered_partitions",
    "_thread",
)
# Methods of Faust's aiokafka Consumer that the adapter overrides or calls.
CONSUMER_METHODS = ("_new_offset", "_wait_next_records", "_to_message", "_add_gap")
# The context variable Faust's tables read a write's partition from (port.py `_write_state`).
MODULE_NAMES = ((faust.streams, "_current_event"),)

PRIVATE_NAMES = len(CONSUMER_STATE) + len(CONSUMER_METHODS) + len(MODULE_NAMES)


def missing_names(consumer: Any, consumer_class: type = FaustConsumer) -> list[str]:
    """The private names not found: on the consumer instance Faust made (its state), on
    Faust's own consumer class (not our subclass, whose overrides would hide a rename), and
    in Faust's modules."""
    missing = [
        f"{type(consumer).__name__} instance attribute {name}"
        for name in CONSUMER_STATE
        if not hasattr(consumer, name)
    ]
    missing += [
        f"{consumer_class.__module__}.{consumer_class.__qualname__}.{name}"
        for name in CONSUMER_METHODS
        if not callable(getattr(consumer_class, name, None))
    ]
    missing += [
        f"{module.__name__}.{name}" for module, name in MODULE_NAMES if not hasattr(module, name)
    ]
    return missing


def check_faust_names(app: Any) -> None:
    """Refuse to start (SystemExit naming each missing attribute) if Faust changed."""
    missing = missing_names(app.consumer)
    if missing:
        version = getattr(faust, "__version__", "?")
        raise SystemExit(
            f"error: this Faust ({version}) lacks private names the worker relies on: "
            + ", ".join(missing)
            + ". Install a supported faust-streaming (see pyproject.toml) or update "
            "streams/adapters/faust/ for this release."
        )
