"""Which events reach a minor, and the event types detectors route by."""

from __future__ import annotations

from typing import Final

from streams.model import MINOR_BANDS, AgeBand, Event, EventType

# Event types through which an account reaches a minor (direct message, contact or group add),
# and an account's own life cycle.
CONTACT_TYPES: Final = frozenset(
    {EventType.MESSAGE_SENT, EventType.CONTACT_ADDED, EventType.GROUP_MEMBER_ADDED}
)
LIFECYCLE_TYPES: Final = frozenset({EventType.ACCOUNT_CREATED, EventType.ACCOUNT_DELETED})
# As constants: on Python 3.11 an enum member lookup (`EventType.X`) costs several dict lookups.
ACCOUNT_CREATED: Final = EventType.ACCOUNT_CREATED
ACCOUNT_DELETED: Final = EventType.ACCOUNT_DELETED


def reaches_minor(event: Event) -> bool:
    """A contact of a declared minor other than oneself, whatever the actor's own band."""
    target = event.target
    return (
        event.type in CONTACT_TYPES
        and target is not None
        and target.age_band in MINOR_BANDS
        and target.id != event.actor.id
    )


def adult_to_minor(event: Event, types: frozenset[EventType]) -> bool:
    """An event of `types` from an adult or unknown-age account to a minor, not a near peer.
    Detectors route only these: a minor's chats, adult-to-adult chats and near-peer chats cost
    them no state at all."""
    target = event.target
    return (
        target is not None
        and event.type in types
        and adult_reaches_minor(event.actor.age_band, target.age_band)
    )


def adult_reaches_minor(actor: AgeBand, target: AgeBand) -> bool:
    """An adult or unknown-age actor reaching a minor who is not a near peer (an 18-20-year-old
    and a 16-17-year-old)."""
    if actor in MINOR_BANDS or target not in MINOR_BANDS:
        return False
    return not (actor is AgeBand.AGE_18_20 and target is AgeBand.AGE_16_17)
