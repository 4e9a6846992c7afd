"""The demo's organisation and its simulated people: deterministic, valid, and answering as a
person would."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from contracts.catalogue import decode
from deploy.local.demo.organisation import CIRCLE_COHORT, demo_organisation
from deploy.local.demo.people import People
from deploy.local.demo.tally import Tally

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
CHAT = "http://127.0.0.1:8030"


def _all(org_size: int = 40) -> list[dict[str, object]]:
    org = demo_organisation(org_size, CHAT, NOW)
    stages = (org.staff, org.volunteers, org.early_requests, org.new_hires, org.hire_profiles, org.activities)
    return [m.body for stage in (*stages, org.rounds) for m in stage]


def test_the_same_seed_gives_the_same_messages_so_a_second_run_is_a_replay() -> None:
    assert _all() == _all()


@given(st.integers(min_value=12, max_value=120))
def test_every_message_of_any_size_of_organisation_fits_its_topic_contract(people: int) -> None:
    org = demo_organisation(people, CHAT, NOW)
    stages = (org.staff, org.volunteers, org.early_requests, org.new_hires, org.hire_profiles, org.activities)
    for message in [m for stage in (*stages, org.rounds) for m in stage]:
        decoded = decode(message.topic, json.dumps(message.body))
        assert decoded.type == message.type


def test_the_first_new_hires_form_a_cohort_that_can_make_a_peer_circle() -> None:
    org = demo_organisation(60, CHAT, NOW)
    cohort = [p for p in org.people if p.new_hire][:CIRCLE_COHORT]
    assert {p.team for p in cohort} == {"platform"}
    assert {p.level for p in cohort} == {"junior"}
    assert all("python" in p.interests for p in cohort)
    assert all(p.time_zone.startswith("Europe/") for p in cohort)


def _proposal(match_id: str) -> dict[str, object]:
    payload = {"match_id": match_id, "kind": "one_to_one", "mentor_id": "S0001", "mentee_id": "H0001"}
    return {"type": "matching.match_proposed", "event_id": f"e-{match_id}", "payload": payload}


def test_a_proposal_is_accepted_by_both_or_declined_with_a_reason_by_the_mentee() -> None:
    people = People(new_hires=["H0001"])
    answers = [people.react(_proposal(f"m{i}"), NOW) for i in range(40)]
    decisions = {tuple(sorted(a.body["payload"]["decision"] for a in answer)) for answer in answers}  # type: ignore[index]
    assert decisions == {("accept", "accept"), ("decline",)}
    declines = [a for answer in answers for a in answer if a.body["payload"]["decision"] == "decline"]  # type: ignore[index]
    assert all(d.body["payload"]["reason"] == "not_a_fit" for d in declines)  # type: ignore[index]


def test_a_replayed_proposal_gets_the_same_answer_under_the_same_ids() -> None:
    first = People(new_hires=[]).react(_proposal("m7"), NOW)
    again = People(new_hires=[]).react(_proposal("m7"), NOW + timedelta(hours=1))
    assert [m.body for m in first] == [m.body for m in again]


def _scheduled(session_id: str, match_id: str, starts_at: datetime) -> dict[str, object]:
    payload = {
        "session_id": session_id,
        "match_id": match_id,
        "kind": "mentoring",
        "host_ids": ["S0001"],
        "participant_ids": ["H0001"],
        "starts_at": starts_at.isoformat(),
    }
    return {"type": "scheduling.session_scheduled", "payload": payload}


def test_pairs_meeting_at_once_move_their_first_session_close_and_report_once_it_started() -> None:
    people = People(new_hires=[])
    moved = [
        (f"s{i}", people.react(_scheduled(f"s{i}", f"m{i}", NOW + timedelta(days=3)), NOW)) for i in range(20)
    ]
    moving = [(session, answer[0]) for session, answer in moved if answer]
    assert 0 < len(moving) < 20, "about half the pairs meet at once"
    session_id, reschedule = moving[0]
    new_start = datetime.fromisoformat(str(reschedule.body["payload"]["new_start"]))  # type: ignore[index]
    assert NOW < new_start < NOW + timedelta(minutes=5)

    rescheduled = {**_scheduled(session_id, "m", new_start), "type": "scheduling.session_rescheduled"}
    outcomes = people.react(rescheduled, NOW)
    assert {m.type for m in outcomes} == {"scheduling.record_session_outcome"}
    assert all(m.not_before is not None and m.not_before > new_start for m in outcomes)
    # Only the first session of a match moves; later ones keep their time.
    assert people.react(_scheduled("later", "m0", NOW + timedelta(days=10)), NOW) == []


def test_when_the_talk_fills_up_its_first_registrant_cancels_and_frees_a_seat() -> None:
    hires = [f"H{i:04d}" for i in range(20)]
    people = People(new_hires=hires)
    registrations = people.react(
        {"type": "scheduling.group_session_announced", "payload": {"group_session_id": "talk"}}, NOW
    )
    assert len(registrations) == 10
    full = {
        "group_session_id": "talk",
        "person_id": hires[-1],
        "seats_left": 0,
        "promoted_from_waitlist": False,
    }
    cancellation = people.react({"type": "scheduling.seat_reserved", "payload": full}, NOW)
    assert [m.body["payload"] for m in cancellation] == [
        {"group_session_id": "talk", "person_id": hires[-10]}
    ]


def test_the_tally_counts_each_event_once_however_often_it_is_read() -> None:
    tally = Tally()
    event = {
        "type": "recognition.badge_awarded",
        "event_id": "b1",
        "subject": "S1",
        "payload": {"person_id": "S1"},
    }
    assert tally.add(event) is True
    assert tally.add(dict(event)) is False
    assert tally.count("recognition.badge_awarded") == 1
    assert tally.per_service()["recognition"] == {"badge_awarded": 1}
