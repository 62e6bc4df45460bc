"""streams.randbench attacks and look-alikes keep the ranges issue 15 gives them, counted from
the events."""

from __future__ import annotations

from collections import defaultdict

import pytest

from streams.model import AgeBand, EventType
from tests.randbench.helpers import (
    DAY,
    HOUR,
    REACH,
    by_pattern,
    distinct_in_window,
    reaches,
    small,
)


def test_classic_burst_reaches_15_to_40_never_contacted_minors_within_90_minutes() -> None:
    for _, contacts in by_pattern(small(), "classic_burst"):
        minors = {e.target.id for e in contacts if e.target is not None}
        assert 15 <= len(minors) <= 40
        assert max(e.ts_ms for e in contacts) - min(e.ts_ms for e in contacts) <= 90 * 60_000
        assert all(
            e.first_contact is not False for e in contacts if e.type is EventType.CONTACT_ADDED
        )


def test_cross_channel_spread_no_channel_reaches_fifteen_in_an_hour() -> None:
    for _, contacts in by_pattern(small(), "cross_channel_spread"):
        minors = {e.target.id for e in contacts if e.target is not None}
        assert 15 <= len(minors) <= 30
        span = max(e.ts_ms for e in contacts) - min(e.ts_ms for e in contacts)
        assert span < HOUR
        for channel in REACH:
            mine = [e for e in contacts if e.type is channel]
            assert distinct_in_window(mine, HOUR) < 15, channel
        groups = {e.group_id for e in contacts if e.type is EventType.GROUP_MEMBER_ADDED}
        assert 2 <= len(groups) <= 3
        group_adds = [e for e in contacts if e.type is EventType.GROUP_MEMBER_ADDED]
        assert len({e.target.id for e in group_adds if e.target is not None}) < 20


def test_teen_claim_groomer_declares_a_minor_or_unknown_band() -> None:
    gen = small()
    people = {e.actor.id: e.actor for e in gen.events}
    claims = {AgeBand.AGE_16_17, AgeBand.UNKNOWN, AgeBand.AGE_13_15}
    for t in gen.truth:
        if t.pattern == "teen_claim_groomer":
            assert all(people[a].age_band in claims for a in t.accounts)


def test_slow_groomer_reaches_new_minors_over_seven_to_fourteen_days() -> None:
    for _, contacts in by_pattern(small(), "slow_groomer"):
        first: dict[str, int] = {}
        for e in contacts:
            assert e.target is not None
            first.setdefault(e.target.id, e.ts_ms)
        days = {ts // DAY for ts in first.values()}
        assert 7 <= len(days) <= 15  # a day's contacts may spill over midnight
        assert distinct_in_window(contacts, DAY) <= 8  # at most 4 new minors a (drawn) day


def test_throwaway_ring_has_three_to_eight_accounts_on_two_to_four_devices() -> None:
    gen = small()
    for t in gen.truth:
        if t.pattern == "throwaway_ring":
            assert 3 <= len(t.accounts) <= 8
            assert 2 <= len(t.devices) <= 4


def test_sextortion_victims_send_media_within_the_hour_then_block() -> None:
    gen = small()
    for t in gen.truth:
        if t.pattern != "sextortion_victim_side":
            continue
        (offender,) = t.accounts
        first: dict[str, int] = {}
        media: dict[str, list[int]] = defaultdict(list)
        blocked: dict[str, int] = {}
        for e in gen.events:
            if e.actor.id == offender and e.target is not None:
                first.setdefault(e.target.id, e.ts_ms)
            elif e.target is not None and e.target.id == offender:
                if e.type is EventType.MESSAGE_SENT and e.has_media:
                    media[e.actor.id].append(e.ts_ms)
                elif e.type is EventType.BLOCKED:
                    blocked[e.actor.id] = e.ts_ms
        assert 2 <= len(first) <= 8 and media, t.instance_id
        for minor, times in media.items():
            assert all(0 < ts - first[minor] <= HOUR for ts in times)
            assert blocked[minor] > max(times)


def test_band_switcher_contacts_minors_only_under_its_new_claim() -> None:
    gen = small()
    for t in gen.truth:
        if t.pattern != "band_switcher":
            continue
        mine = [e for e in gen.events if e.actor.id in t.accounts]
        contacts = reaches(gen.events, set(t.accounts))
        assert {e.actor.age_band.value for e in contacts} == {t.params["switched_to"]}
        before = {e.actor.age_band for e in mine if e.ts_ms < t.start_ts_ms}
        assert before <= {AgeBand.AGE_21_PLUS, AgeBand.AGE_18_20, AgeBand(t.params["switched_to"])}


def test_lookalike_youth_coach_adds_15_to_40_minors_over_2_to_5_groups() -> None:
    for _, contacts in by_pattern(small(), "youth_coach"):
        adds = [e for e in contacts if e.type is EventType.GROUP_MEMBER_ADDED]
        assert 15 <= len({e.target.id for e in adds if e.target is not None}) <= 40
        assert 2 <= len({e.group_id for e in adds}) <= 5


@pytest.mark.parametrize("pattern", ["family_device", "sibling_shared_device"])
def test_shared_device_lookalikes_reregister_on_their_own_device(pattern: str) -> None:
    gen = small()
    for t in gen.truth:
        if t.pattern != pattern:
            continue
        deleted = [
            e
            for e in gen.events
            if e.type is EventType.ACCOUNT_DELETED and e.actor.id in t.accounts
        ]
        created = [
            e
            for e in gen.events
            if e.type is EventType.ACCOUNT_CREATED and e.actor.id in t.accounts
        ]
        assert deleted and created
        assert any(c.ts_ms > deleted[0].ts_ms and c.device_hash in t.devices for c in created)


def test_off_platform_move_chats_with_8_to_20_minors_briefly_then_never_again() -> None:
    gen = small()
    for t in gen.truth:
        if t.pattern != "off_platform_move":
            continue
        (offender,) = t.accounts
        pairs: dict[str, list[int]] = defaultdict(list)
        answered = set()
        for e in gen.events:
            if e.actor.id == offender and e.target is not None:
                pairs[e.target.id].append(e.ts_ms)
            elif e.target is not None and e.target.id == offender:
                pairs[e.actor.id].append(e.ts_ms)
                answered.add(e.actor.id)
        assert 8 <= len(pairs) <= 20
        assert all(max(ts) - min(ts) <= 2 * HOUR for ts in pairs.values())  # then never again
        assert answered, t.instance_id
