"""Pacing for fetches a broker answers at once and empty: what keeps an idle consumer idle.

A Kafka broker holds an empty fetch for up to `fetch.max.wait.ms`, so a consumer with nothing
to read sends about one request per max wait. noida-db, the embedded broker, answers at once,
and every idle consumer then spins: measured on main, an idle worker used ~0.85 of a core and
an idle `alerts tail` ~0.8. The pacer tells such a broker by its answer, an empty fetch back in
less than half the max wait, and waits before the next one: `first_s`, then twice as long each
time, at most `cap_s` (the most it adds to the first record's latency after a pause). Records,
or a broker that did wait, reset it; so on Kafka, where an empty fetch takes the whole max
wait, nothing changes.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class FetchPacer:
    max_wait_s: float
    cap_s: float = 0.1
    first_s: float = 0.005
    delay_s: float = 0.0

    def __post_init__(self) -> None:
        if not 0 < self.first_s <= self.cap_s:
            raise ValueError(f"need 0 < first_s <= cap_s, got {self.first_s}, {self.cap_s}")

    def after_fetch(self, took_s: float, records: bool) -> float:
        """Seconds to wait before the next fetch, given how long the last one took and whether
        it brought records."""
        if records or took_s >= self.max_wait_s / 2:
            self.delay_s = 0.0
        else:
            self.delay_s = min(self.cap_s, max(self.first_s, self.delay_s * 2))
        return self.delay_s
