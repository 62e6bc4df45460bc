"""Routing: each detector's declared `event_types`, `minor_targets_only`, `adult_actors_only`,
`minor_party_only` and `targetless_only` are safe pre-filters, keys are "KIND:id", and
processing events in one batch is processing them one by one."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.config import load_config
from streams.detectors.subjects import account_key, device_key, ip_key, subject_key
from streams.engine.core import routes
from streams.model import MINOR_BANDS, Account, AgeBand, Event, EventType, SubjectKind
from tests.factories import HOUR, T0

DETECTORS = load_config().active()

accounts = st.builds(
    Account,
    id=st.sampled_from(["u-1", "u-2", "u-3"]),
    age_band=st.sampled_from(AgeBand),
    created_ts_ms=st.none() | st.integers(T0 - 30 * 24 * HOUR, T0),
    anonymous=st.booleans(),
)
events = st.builds(
    Event,
    event_id=st.uuids().map(str),
    type=st.sampled_from(EventType),
    ts_ms=st.integers(T0, T0 + 48 * HOUR),
    actor=accounts,
    target=st.none() | accounts,
    group_id=st.none() | st.sampled_from(["g-1", "g-2"]),
    device_hash=st.none() | st.sampled_from(["", "d-1", "d-2"]),
    ip_hash=st.none() | st.sampled_from(["", "ip-1"]),
    first_contact=st.none() | st.booleans(),
    has_media=st.none() | st.booleans(),
)


@settings(max_examples=300, deadline=None)
@given(event=events)
def test_no_detector_routes_an_event_type_it_did_not_declare(event: Event) -> None:
    for detector in DETECTORS:
        if event.type not in detector.event_types:
            assert list(detector.subject_keys(event)) == [], detector.name


@settings(max_examples=300, deadline=None)
@given(event=events)
def test_no_detector_routes_a_minor_targets_only_type_to_anyone_else(event: Event) -> None:
    target_is_minor = event.target is not None and event.target.age_band in MINOR_BANDS
    for detector in DETECTORS:
        if event.type in detector.minor_targets_only and not target_is_minor:
            assert list(detector.subject_keys(event)) == [], detector.name


@settings(max_examples=300, deadline=None)
@given(event=events)
def test_no_detector_routes_an_adult_actors_only_type_from_a_minor(event: Event) -> None:
    for detector in DETECTORS:
        if event.type in detector.adult_actors_only and event.actor.age_band in MINOR_BANDS:
            assert list(detector.subject_keys(event)) == [], detector.name


@settings(max_examples=300, deadline=None)
@given(event=events)
def test_no_detector_routes_a_minor_party_only_type_between_non_minors(event: Event) -> None:
    target_is_minor = event.target is not None and event.target.age_band in MINOR_BANDS
    for detector in DETECTORS:
        minor_party = target_is_minor or event.actor.age_band in MINOR_BANDS
        if event.type in detector.minor_party_only and not minor_party:
            assert list(detector.subject_keys(event)) == [], detector.name


@settings(max_examples=300, deadline=None)
@given(event=events)
def test_no_detector_routes_a_targetless_only_type_with_a_target(event: Event) -> None:
    for detector in DETECTORS:
        if event.type in detector.targetless_only and event.target is not None:
            assert list(detector.subject_keys(event)) == [], detector.name


def test_the_declarations_spare_the_engine_most_questions() -> None:
    """A direct message between adults updates no subject: the engine asks no detector (it
    asked four before the declarations beyond `minor_targets_only`); between two minors it
    does not ask the two that follow adults (new_contact_burst, sextortion_velocity) nor the
    one that reads rooms (minor_group_rooms)."""
    engine = load_config().new_engine()
    adult, kid = Account("a", AgeBand.AGE_21_PLUS), Account("k", AgeBand.AGE_13_15)
    adults = Event("e-1", EventType.MESSAGE_SENT, T0, adult, Account("b", AgeBand.UNKNOWN))
    kids = Event("e-2", EventType.MESSAGE_SENT, T0, kid, Account("l", AgeBand.AGE_13_15))
    assert engine.candidates(adults) == ()
    assert {d.name for d in engine.candidates(kids)} == {
        "minor_exposure",
        "cold_outreach",
        "media_then_pushback",
        "anonymous_churn",
        "ban_evasion",
    }


@settings(max_examples=300, deadline=None)
@given(event=events)
def test_routes_are_every_detectors_keys_unfiltered(event: Event) -> None:
    naive: dict[str, list[str]] = {}
    for detector in DETECTORS:
        for key in detector.subject_keys(event):
            naive.setdefault(key, []).append(detector.name)
    got = {key: [d.name for d in wanting] for key, wanting in routes(DETECTORS, event).items()}
    assert got == naive
    engine = load_config().new_engine()
    assert {k: [d.name for d in v] for k, v in engine.routes(event).items()} == naive


@settings(max_examples=60, deadline=None)
@given(batch=st.lists(events, max_size=60))
def test_a_batch_gives_the_alerts_and_state_of_one_event_at_a_time(batch: list[Event]) -> None:
    ordered = sorted(batch, key=lambda e: (e.ts_ms, e.event_id))
    one, many = load_config().new_engine(), load_config().new_engine()
    singly = [a for e in ordered for a in one.process(e)]
    assert many.process_all(ordered) == singly
    assert one.take_dirty() == many.take_dirty()
    assert one.stats == many.stats


def test_subject_keys_name_the_kind() -> None:
    assert account_key("u-1") == subject_key(SubjectKind.ACCOUNT, "u-1") == "ACCOUNT:u-1"
    assert device_key("d-1") == subject_key(SubjectKind.DEVICE, "d-1") == "DEVICE:d-1"
    assert ip_key("ip-1") == subject_key(SubjectKind.IP, "ip-1") == "IP:ip-1"
