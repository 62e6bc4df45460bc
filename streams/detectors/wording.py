"""Words on alerts: an account and a window as a moderator reads them, bounded evidence."""

from __future__ import annotations

from collections.abc import Iterable

from streams.detectors.windows import DAY_MS, HOUR_MS, MINUTE_MS
from streams.model import Account


def span_words(window_ms: int) -> str:
    """A window as a moderator reads it: "6 h" or "30 min"."""
    if window_ms % HOUR_MS == 0:
        return f"{window_ms // HOUR_MS} h"
    return f"{window_ms // MINUTE_MS} min"


def duration_words(ms: int) -> str:
    """A span as a moderator reads it: "40 min", "5 h" or "3.5 days"."""
    if ms < 2 * HOUR_MS:
        return f"{ms // MINUTE_MS} min"
    if ms < 2 * DAY_MS:
        return f"{ms / HOUR_MS:.0f} h"
    return f"{ms / DAY_MS:.1f} days"


def describe_age(band: str, anonymous: bool, account_age_days: float | None) -> str:
    """Plain words for an account, as a moderator would say it."""
    words = {
        "AGE_18_20": "adult (18-20)",
        "AGE_21_PLUS": "adult (21+)",
        "UNKNOWN": "unknown-age",
        "UNDER_13": "under-13",
        "AGE_13_15": "13-15",
        "AGE_16_17": "16-17",
    }[band]
    parts = [words]
    if anonymous:
        parts.append("anonymous")
    if account_age_days is not None and account_age_days < 7:
        parts.append(f"{account_age_days:.0f}-day-old" if account_age_days >= 1 else "new")
    return ", ".join(parts) + " account"


def about_account(account: Account, now_ms: int) -> tuple[dict[str, float], str]:
    """What an alert on an account says of it: its features (declared minor, anonymous, and
    its age in days when known) and the words that open the reason ("16-17, anonymous
    account", capitalised)."""
    created = account.created_ts_ms
    age_days = (now_ms - created) / DAY_MS if created else None
    features = {
        "subject_declared_minor": 1.0 if account.age_band.is_minor else 0.0,
        "subject_anonymous": 1.0 if account.anonymous else 0.0,
    }
    if age_days is not None:
        features["subject_account_age_days"] = round(age_days, 3)
    who = describe_age(account.age_band, account.anonymous, age_days)
    return features, who[0].upper() + who[1:]


def capped(values: Iterable[str], cap: int) -> tuple[str, ...]:
    """First `cap` values, in order: evidence lists on alerts are bounded."""
    out: list[str] = []
    for value in values:
        if len(out) >= cap:
            break
        out.append(value)
    return tuple(out)
