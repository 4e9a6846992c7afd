"""A person's profile from HR facts, their own settings and external registration: pure logic."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.envelope import Envelope
from contracts.profile import (
    ProfileCreated,
    ProfileDeactivated,
    ProfileStatus,
    ProfileUpdated,
    RegisterExternalMentor,
    UpdateProfile,
)
from services.profile import domain
from services.profile.domain import PersonRecord, Rejected
from tests.support.builders import hr_event

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def _feed(events: list[Any], record: PersonRecord | None = None) -> tuple[PersonRecord, list[Envelope]]:
    record = record or PersonRecord(person_id="E1")
    published: list[Envelope] = []
    for event in events:
        decision = domain.on_hr_event(record, event)
        record = decision.record
        if decision.published is not None:
            published.append(decision.published)
    return record, published


def _update_command(at: datetime, **fields: object) -> UpdateProfile:
    return UpdateProfile.model_validate(
        {
            "event_id": f"cmd-{at.timestamp()}",
            "type": "profile.update",
            "source": "web",
            "occurred_at": at.isoformat(),
            "payload": {"person_id": "E1", **fields},
        }
    )


def test_an_onboarded_employee_becomes_an_active_mentee_in_the_onboarding_programme() -> None:
    record, published = _feed([hr_event("employee.onboarded", "E1", _at(0))])
    assert [type(m) for m in published] == [ProfileCreated]
    snapshot = record.snapshot
    assert snapshot is not None
    assert (snapshot.status, snapshot.revision) == (ProfileStatus.ACTIVE, 1)
    assert snapshot.mentee.opted_in
    assert not snapshot.mentor.opted_in
    assert snapshot.programmes == ["onboarding"]


def test_an_update_changes_only_what_it_names_and_publishes_the_full_snapshot() -> None:
    record, published = _feed(
        [
            hr_event("employee.onboarded", "E1", _at(0), team="payments", title="Engineer"),
            hr_event("employee.updated", "E1", _at(5), team="platform"),
        ]
    )
    assert [type(m) for m in published] == [ProfileCreated, ProfileUpdated]
    assert record.snapshot is not None
    assert (record.snapshot.team, record.snapshot.title, record.snapshot.revision) == (
        "platform",
        "Engineer",
        2,
    )


def test_leave_pauses_and_return_resumes() -> None:
    record, _ = _feed(
        [
            hr_event("employee.onboarded", "E1", _at(0)),
            hr_event("employee.leave_started", "E1", _at(1), starts_on="2027-01-01"),
        ]
    )
    assert record.snapshot is not None
    assert record.snapshot.status is ProfileStatus.ON_LEAVE
    record, _ = _feed([hr_event("employee.leave_ended", "E1", _at(2), returned_on="2027-03-01")], record)
    assert record.snapshot is not None
    assert record.snapshot.status is ProfileStatus.ACTIVE


def test_offboarding_deactivates_and_later_updates_do_not_revive_the_profile() -> None:
    record, published = _feed(
        [
            hr_event("employee.onboarded", "E1", _at(0)),
            hr_event("employee.offboarded", "E1", _at(10)),
            hr_event("employee.leave_ended", "E1", _at(11), returned_on="2027-03-01"),
        ]
    )
    assert [type(m) for m in published] == [ProfileCreated, ProfileDeactivated]
    assert record.snapshot is not None
    assert record.snapshot.status is ProfileStatus.DEACTIVATED


def test_an_update_that_arrives_before_its_onboarding_waits_and_then_applies() -> None:
    update = hr_event("employee.updated", "E1", _at(5), team="data")
    record, published = _feed([update])
    assert published == []
    assert record.snapshot is None
    record, published = _feed([hr_event("employee.onboarded", "E1", _at(0), team="payments")], record)
    assert [type(m) for m in published] == [ProfileCreated]
    assert record.snapshot is not None
    assert record.snapshot.team == "data"


def test_a_replayed_hr_event_changes_nothing() -> None:
    onboarded = hr_event("employee.onboarded", "E1", _at(0))
    record, _ = _feed([onboarded])
    again = domain.on_hr_event(record, onboarded)
    assert again.record == record
    assert again.published is None


def test_own_settings_fill_the_profile_and_a_newer_time_zone_wins_whoever_set_it() -> None:
    record, _ = _feed([hr_event("employee.onboarded", "E1", _at(0), time_zone="Europe/Berlin")])
    decision = domain.on_update_profile(
        record,
        _update_command(
            _at(10),
            time_zone="Asia/Tokyo",
            goals=["kafka"],
            mentor={"opted_in": True, "capacity": 2},
            preferences={"same_team_allowed": True, "max_time_zone_gap_hours": 3},
        ),
    )
    snapshot = decision.record.snapshot
    assert isinstance(decision.published, ProfileUpdated)
    assert snapshot is not None
    assert (snapshot.time_zone, snapshot.goals, snapshot.mentor.capacity) == ("Asia/Tokyo", ["kafka"], 2)
    assert snapshot.preferences.max_time_zone_gap_hours == 3
    relocated, _ = _feed(
        [hr_event("employee.updated", "E1", _at(20), time_zone="America/Chicago")], decision.record
    )
    assert relocated.snapshot is not None
    assert relocated.snapshot.time_zone == "America/Chicago"


def test_profile_commands_for_unknown_or_departed_people_are_refused_with_a_reason() -> None:
    with pytest.raises(Rejected, match="no profile"):
        domain.on_update_profile(PersonRecord(person_id="E1"), _update_command(_at(0), goals=["go"]))
    record, _ = _feed(
        [hr_event("employee.onboarded", "E1", _at(0)), hr_event("employee.offboarded", "E1", _at(1))]
    )
    with pytest.raises(Rejected, match="deactivated"):
        domain.on_update_profile(record, _update_command(_at(2), goals=["go"]))


def test_an_external_mentor_is_registered_as_an_active_mentor_who_is_not_a_mentee() -> None:
    registration = RegisterExternalMentor.model_validate(
        {
            "event_id": "reg-1",
            "type": "profile.register_external_mentor",
            "source": "web",
            "occurred_at": _at(0).isoformat(),
            "payload": {
                "person_id": "X-1",
                "display_name": "Priya Raman",
                "email": "priya@acme.example",
                "organisation": "Acme",
                "time_zone": "Asia/Kolkata",
                "skills": [{"name": "leadership", "level": "expert"}],
                "capacity": 3,
            },
        }
    )
    decision = domain.on_register_external_mentor(PersonRecord(person_id="X-1"), registration)
    snapshot = decision.record.snapshot
    assert isinstance(decision.published, ProfileCreated)
    assert snapshot is not None
    assert snapshot.external
    assert (snapshot.mentor.opted_in, snapshot.mentor.capacity, snapshot.mentee.opted_in) == (True, 3, False)
    with pytest.raises(Rejected, match="external mentor"):
        domain.on_hr_event(decision.record, hr_event("employee.onboarded", "X-1", _at(1)))


# ------------------------------------------------------------------ order independence

TEAMS = st.sampled_from(["payments", "platform", "data", "mobile"])
ZONES = st.sampled_from(["Europe/Berlin", "Asia/Tokyo", "America/Chicago", "Africa/Lagos"])


@st.composite
def hr_histories(draw: st.DrawFn) -> list[object]:
    """An onboarding followed by a random, plausible life: updates, leave, return, offboarding."""
    events = [hr_event("employee.onboarded", "E1", _at(0), event_id="ev-0")]
    for index in range(1, draw(st.integers(min_value=0, max_value=8)) + 1):
        kind = draw(st.sampled_from(["update", "update", "leave", "return", "offboard"]))
        at, event_id = _at(index), f"ev-{index}"
        if kind == "update":
            events.append(
                hr_event("employee.updated", "E1", at, event_id, team=draw(TEAMS), time_zone=draw(ZONES))
            )
        elif kind == "leave":
            events.append(hr_event("employee.leave_started", "E1", at, event_id, starts_on="2027-01-01"))
        elif kind == "return":
            events.append(hr_event("employee.leave_ended", "E1", at, event_id, returned_on="2027-02-01"))
        else:
            events.append(hr_event("employee.offboarded", "E1", at, event_id))
    return events


@settings(max_examples=150, deadline=None)
@given(history=hr_histories(), data=st.data())
def test_shuffled_and_duplicated_deliveries_end_in_the_same_profile_as_in_order_delivery(
    history: list[object], data: st.DataObject
) -> None:
    in_order, _ = _feed(history)
    duplicated = history + data.draw(st.lists(st.sampled_from(history), max_size=6))
    delivered = data.draw(st.permutations(duplicated))
    shuffled, published = _feed(list(delivered))

    assert in_order.snapshot is not None
    assert shuffled.snapshot is not None
    assert shuffled.snapshot.model_dump(exclude={"revision"}) == in_order.snapshot.model_dump(
        exclude={"revision"}
    )
    revisions = [m.payload.revision for m in published]  # type: ignore[attr-defined]  # all snapshots
    assert revisions == list(range(1, len(revisions) + 1))  # every publication is a new revision


@settings(max_examples=50, deadline=None)
@given(history=hr_histories())
def test_a_record_read_back_from_its_stored_form_projects_the_same_profile(history: list[Any]) -> None:
    from services.profile.store import fields_of, record_from

    record, _ = _feed(history)
    stored = {"_id": record.person_id, **fields_of(record)}
    # What the database hands back is plain JSON-like data.
    reloaded = record_from(json.loads(json.dumps(stored, default=str)))
    assert reloaded == record
    assert domain.project(reloaded, 1) == domain.project(record, 1)
