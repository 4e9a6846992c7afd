"""The life of a match on the real stack after it is proposed: ended by its participants,
expired when nobody answers, paused while a mentee is on leave, replaced after poor
feedback, and never re-filled above a capacity the mentor lowered."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from contracts.catalogue import MATCHING_COMMANDS, SCHEDULING_EVENTS
from contracts.scheduling import SessionCompleted, SessionCompletedData
from services.matching.app import MatchingSettings, definition
from services.runtime.service import running
from tests.support.infrastructure import Infrastructure
from tests.support.kafka import produce
from tests.support.matching import Matching, mentor, of_type, snapshot
from tests.support.services import settings_for


@pytest.fixture
async def matching(infrastructure: Infrastructure, namespace: str) -> AsyncIterator[Matching]:
    settings = settings_for(MatchingSettings, infrastructure, namespace)
    async with running(definition, settings):
        yield Matching(infrastructure, settings)


async def _confirmed(matching: Matching, mentor_id: str, mentee_id: str, seen: int) -> str:
    """Answer the latest proposal of this pair with two acceptances; its match id."""
    events = await matching.events(seen)
    proposal = next(
        e["payload"]
        for e in reversed(of_type(events, "match_proposed"))
        if (e["payload"]["mentor_id"], e["payload"]["mentee_id"]) == (mentor_id, mentee_id)
    )
    await matching.respond(proposal["match_id"], mentor_id, "accept")
    await matching.respond(proposal["match_id"], mentee_id, "accept")
    return str(proposal["match_id"])


async def test_a_completed_match_frees_the_seat_for_the_next_person_waiting(matching: Matching) -> None:
    await matching.profile(mentor("M-END", capacity=1))
    await matching.profile(snapshot("NEW-E1", team="data"))
    match_id = await _confirmed(matching, "M-END", "NEW-E1", 1)
    await matching.profile(snapshot("NEW-E2", team="data"))
    await matching.events(3)  # proposed, confirmed, waitlisted
    payload = {"match_id": match_id, "ended_by": "NEW-E1", "reason": "completed"}
    await matching.command("matching.end_match", payload, match_id, "end-1")
    events = await matching.events(5)

    ended = of_type(events, "match_ended")
    proposals = of_type(events, "match_proposed")
    assert [(e["payload"]["ended_by"], e["payload"]["reason"]) for e in ended] == [("NEW-E1", "completed")]
    assert [p["payload"]["mentee_id"] for p in proposals] == ["NEW-E1", "NEW-E2"]


async def test_a_match_ended_as_not_a_fit_finds_the_mentee_a_different_mentor(matching: Matching) -> None:
    await matching.profile(mentor("M-FIRST", skills=[{"name": "go", "level": "expert"}]))
    await matching.profile(mentor("M-SECOND", skills=[{"name": "go", "level": "working"}]))
    await matching.profile(snapshot("NEW-F", goals=["go"]))
    match_id = await _confirmed(matching, "M-FIRST", "NEW-F", 1)
    await matching.events(2)
    payload = {"match_id": match_id, "ended_by": "NEW-F", "reason": "not_a_fit"}
    await matching.command("matching.end_match", payload, match_id, "end-2")
    events = await matching.events(4)

    assert [p["payload"]["mentor_id"] for p in of_type(events, "match_proposed")] == ["M-FIRST", "M-SECOND"]


async def test_ending_someone_elses_match_is_refused_with_the_reason(matching: Matching) -> None:
    await matching.profile(mentor("M-X"))
    await matching.profile(snapshot("NEW-X"))
    proposal = (await matching.events(1))[0]["payload"]
    payload = {"match_id": proposal["match_id"], "ended_by": "STRANGER", "reason": "other"}
    await matching.command("matching.end_match", payload, proposal["match_id"], "end-3")
    dead = await matching.dead_letters(1)

    assert "only the mentor or the mentee can end this match" in dead[0].headers["dlq.reason"]


@pytest.fixture
async def hasty_matching(infrastructure: Infrastructure, namespace: str) -> AsyncIterator[Matching]:
    """Proposals expire a second after they are made, and expiry is checked often."""
    settings = settings_for(MatchingSettings, infrastructure, namespace).model_copy(
        update={"proposal_ttl_hours": 1 / 3600, "expiry_sweep_seconds": 0.3}
    )
    async with running(definition, settings):
        yield Matching(infrastructure, settings)


async def test_a_proposal_nobody_answers_expires_and_the_next_best_mentor_is_proposed(
    hasty_matching: Matching,
) -> None:
    matching = hasty_matching
    await matching.profile(mentor("M-SILENT", skills=[{"name": "rust", "level": "expert"}]))
    await matching.profile(mentor("M-BACKUP", skills=[{"name": "rust", "level": "working"}]))
    await matching.profile(snapshot("NEW-T", goals=["rust"]))
    events = await matching.events(3)  # proposed, expired, proposed again

    expired = of_type(events, "proposal_expired")
    proposals = of_type(events, "match_proposed")
    assert [p["payload"]["mentor_id"] for p in proposals[:2]] == ["M-SILENT", "M-BACKUP"]
    assert expired[0]["payload"]["match_id"] == proposals[0]["payload"]["match_id"]
    assert expired[0]["payload"]["waiting_on"] == ["M-SILENT", "NEW-T"]


async def test_a_mentee_on_leave_pauses_the_match_and_returning_resumes_it(matching: Matching) -> None:
    await matching.profile(mentor("M-P"))
    await matching.profile(snapshot("NEW-P"))
    match_id = await _confirmed(matching, "M-P", "NEW-P", 1)
    await matching.events(2)
    await matching.profile(snapshot("NEW-P", revision=2, status="on_leave"))
    await matching.events(3)
    await matching.profile(snapshot("NEW-P", revision=3))
    events = await matching.events(4)

    assert [e["type"] for e in events[2:]] == ["matching.match_paused", "matching.match_resumed"]
    assert {e["payload"]["match_id"] for e in events[2:]} == {match_id}
    assert events[2]["payload"]["reason"] == "mentee_on_leave"


async def _rate(matching: Matching, match_id: str, mentor_id: str, mentee_id: str, rating: int) -> None:
    data = SessionCompletedData.model_validate(
        {
            "session_id": f"s-{match_id}",
            "kind": "mentoring",
            "match_id": match_id,
            "host_ids": [mentor_id],
            "participant_ids": [mentee_id],
            "attended_ids": [mentee_id],
            "held_at": "2026-12-02T10:00:00Z",
            "ratings": [{"person_id": mentee_id, "rating": rating, "comment": "not a good fit"}],
        }
    )
    completed = SessionCompleted.create(data, source="scheduling")
    await produce(
        matching.infra.kafka_bootstrap,
        matching.settings.topic(SCHEDULING_EVENTS.name),
        completed.to_json_bytes(),
        key=match_id.encode(),
    )


async def test_a_session_rated_a_poor_fit_offers_a_better_mentor_who_replaces_the_first_once_accepted(
    matching: Matching,
) -> None:
    await matching.profile(mentor("M-POOR", skills=[{"name": "ml", "level": "expert"}]))
    await matching.profile(mentor("M-BETTER", skills=[{"name": "ml", "level": "proficient"}]))
    await matching.profile(snapshot("NEW-Q", goals=["ml"]))
    old_match = await _confirmed(matching, "M-POOR", "NEW-Q", 1)
    await matching.events(2)
    await _rate(matching, old_match, "M-POOR", "NEW-Q", rating=1)
    offer = of_type(await matching.events(3), "match_proposed")[-1]["payload"]
    assert (offer["mentor_id"], offer["replaces_match_id"]) == ("M-BETTER", old_match)

    await matching.respond(offer["match_id"], "M-BETTER", "accept")
    await matching.respond(offer["match_id"], "NEW-Q", "accept")
    events = await matching.events(5)
    ended = of_type(events, "match_ended")
    assert [(e["payload"]["match_id"], e["payload"]["reason"]) for e in ended] == [(old_match, "not_a_fit")]


async def test_a_good_rating_changes_nothing(matching: Matching) -> None:
    await matching.profile(mentor("M-GOOD"))
    await matching.profile(mentor("M-SPARE"))
    await matching.profile(snapshot("NEW-G"))
    match_id = await _confirmed(matching, "M-GOOD", "NEW-G", 1)
    await matching.events(2)
    await _rate(matching, match_id, "M-GOOD", "NEW-G", rating=4)
    await matching.handled_everything_on(SCHEDULING_EVENTS.name)

    assert len(await matching.all_events()) == 2


async def test_a_mentor_who_lowers_capacity_gets_no_new_mentee_until_below_it(matching: Matching) -> None:
    await matching.profile(mentor("M-LOW", capacity=2))
    await matching.profile(snapshot("NEW-L1", team="data"))
    await matching.profile(snapshot("NEW-L2", team="data"))
    first = (await matching.events(2))[0]["payload"]
    await matching.profile(mentor("M-LOW", capacity=1, revision=2))
    await matching.profile(snapshot("NEW-L3", team="data"))
    await matching.events(3)
    payload = {"match_id": first["match_id"], "ended_by": first["mentee_id"], "reason": "completed"}
    await matching.command("matching.end_match", payload, first["match_id"], "end-low")
    await matching.events(4)
    await matching.handled_everything_on(MATCHING_COMMANDS.name)

    # One of two seats came free, but the mentor now takes one mentee: the one still held.
    events = await matching.events(4)
    assert [e["type"] for e in events].count("matching.match_proposed") == 2
    assert of_type(events, "request_waitlisted")[0]["payload"]["person_id"] == "NEW-L3"
    assert len(events) == 4
