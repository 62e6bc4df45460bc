"""Pacing for fetches a broker answers at once and empty: what keeps an idle consumer idle.

A Kafka broker holds an empty fetch for up to `fetch.max.wait.ms`, so a consumer with nothing
to read sends about one request per max wait. noida-db, the embedded broker, answers at once,
and every idle consumer then spins: measured on main, an idle worker used ~0.85 of a core and
an idle `alerts tail` ~0.8. The pacer tells such a broker by its answer, an empty fetch back in
less than half the max wait. Once such answers have come for `grace_s` in a row (the consumer
is idle, not between two records of live traffic), it waits before the next fetch: `first_s`,
then twice as long each time, at most `cap_s`, the most it adds to the first record's latency
after a pause. Records, or a broker that did wait, reset it; so live traffic is never paced,
and on Kafka, where an empty fetch takes the whole max wait, nothing changes.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class FetchPacer:
    max_wait_s: float
    grace_s: float = 0.2
    first_s: float = 0.005
    cap_s: float = 0.05
    delay_s: float = 0.0
    empty_since_s: float | None = None  # when the current run of quick empty answers began

    def __post_init__(self) -> None:
        if not 0 < self.first_s <= self.cap_s:
            raise ValueError(f"need 0 < first_s <= cap_s, got {self.first_s}, {self.cap_s}")

    def after_fetch(self, took_s: float, records: bool, now_s: float) -> float:
        """Seconds to wait before the next fetch, given how long the last one took, whether it
        brought records, and the time now (any monotonic clock)."""
        if records or took_s >= self.max_wait_s / 2:
            self.delay_s, self.empty_since_s = 0.0, None
        elif self.empty_since_s is None:
            self.empty_since_s = now_s
        elif now_s - self.empty_since_s >= self.grace_s:
            self.delay_s = min(self.cap_s, max(self.first_s, self.delay_s * 2))
        return self.delay_s
