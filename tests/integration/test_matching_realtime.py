"""Real-time matching on the real stack: a new hire's profile event in, a proposal out,
within capacity, or a waitlist entry that fills when a mentor appears."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from contracts.catalogue import MATCHING_COMMANDS
from services.matching.app import MatchingSettings, definition
from services.runtime.service import running
from tests.support.infrastructure import Infrastructure
from tests.support.kafka import produce, wait_for_records
from tests.support.matching import Matching, mentor, snapshot
from tests.support.services import settings_for
from tests.support.waiting import eventually


@pytest.fixture
async def matching(infrastructure: Infrastructure, namespace: str) -> AsyncIterator[Matching]:
    settings = settings_for(MatchingSettings, infrastructure, namespace)
    async with running(definition, settings):
        yield Matching(infrastructure, settings)


async def test_a_new_hire_is_proposed_the_best_mentor_with_the_reasons(matching: Matching) -> None:
    await matching.profile(mentor("M-KAFKA", skills=[{"name": "kafka", "level": "expert"}]))
    await matching.profile(mentor("M-OTHER", skills=[{"name": "css", "level": "expert"}]))
    await matching.profile(snapshot("NEW-1", goals=["kafka"]))
    events = await matching.events(1)

    proposal = events[0]
    assert proposal["type"] == "matching.match_proposed"
    assert (proposal["payload"]["mentor_id"], proposal["payload"]["mentee_id"]) == ("M-KAFKA", "NEW-1")
    reasons = {c["criterion"]: c["explanation"] for c in proposal["payload"]["breakdown"]}
    assert reasons["skill_coverage"] == "Covers 1 of 1 goals: kafka"


async def test_a_mentor_is_never_proposed_beyond_capacity_and_the_rest_wait(matching: Matching) -> None:
    await matching.profile(mentor("M-ONE", capacity=1))
    await matching.profile(snapshot("NEW-A", team="data"))
    await matching.profile(snapshot("NEW-B", team="data"))
    events = await matching.events(2)

    kinds = sorted(e["type"] for e in events)
    assert kinds == ["matching.match_proposed", "matching.request_waitlisted"]


async def test_a_waitlisted_new_hire_is_proposed_as_soon_as_a_mentor_opts_in(matching: Matching) -> None:
    await matching.profile(snapshot("NEW-W", goals=["go"]))
    waiting = await matching.events(1)
    await matching.profile(mentor("M-LATE", skills=[{"name": "go", "level": "proficient"}]))
    events = await matching.events(2)
    proposals = [e for e in events if e["type"] == "matching.match_proposed"]

    assert waiting[0]["type"] == "matching.request_waitlisted"
    assert waiting[0]["payload"]["unmet_topics"] == ["go"]
    assert [(p["payload"]["mentor_id"], p["payload"]["mentee_id"]) for p in proposals] == [
        ("M-LATE", "NEW-W")
    ]


async def test_a_redelivered_profile_event_makes_no_second_proposal(matching: Matching) -> None:
    await matching.profile(mentor("M-R"))
    hire = snapshot("NEW-R")
    await matching.profile(hire, event_id="same-event")
    await matching.profile(hire, event_id="same-event")
    await matching.profile(snapshot("NEW-R", revision=2, goals=["sql"]))  # a later change, same key
    await matching.events(1)
    # The later change follows the duplicates on the same partition; once the service has
    # remembered it, both copies were handled.
    await eventually(lambda: _has_revision(matching, "NEW-R", 2), what="the later snapshot remembered")
    events = await matching.all_events()
    assert [json.loads(r.value or b"")["type"] for r in events] == ["matching.match_proposed"]


async def _has_revision(matching: Matching, person_id: str, revision: int) -> bool:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(matching.infra.mongo_url)
    try:
        doc = await client[matching.settings.database_name]["candidates"].find_one({"_id": person_id})
        return doc is not None and doc["revision"] == revision
    finally:
        await client.close()


async def _respond(matching: Matching, match_id: str, responder: str, decision: str, **extra: Any) -> None:
    body = {
        "event_id": f"answer-{match_id}-{responder}-{decision}",
        "type": "matching.respond_to_proposal",
        "source": "web",
        "occurred_at": "2026-12-01T10:00:00Z",
        "payload": {"match_id": match_id, "responder_id": responder, "decision": decision, **extra},
    }
    await produce(
        matching.infra.kafka_bootstrap,
        matching.settings.topic(MATCHING_COMMANDS.name),
        json.dumps(body).encode(),
        key=match_id.encode(),
    )


def _of_type(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == kind]


async def test_a_match_is_confirmed_only_when_mentor_and_mentee_both_accept(matching: Matching) -> None:
    await matching.profile(mentor("M-C"))
    await matching.profile(snapshot("NEW-C"))
    proposal = (await matching.events(1))[0]["payload"]
    await _respond(matching, proposal["match_id"], "M-C", "accept")
    await _respond(matching, proposal["match_id"], "NEW-C", "accept")
    events = await matching.events(2)

    confirmed = _of_type(events, "matching.match_confirmed")
    assert [(c["payload"]["mentor_id"], c["payload"]["mentee_id"]) for c in confirmed] == [("M-C", "NEW-C")]


async def test_a_declined_proposal_frees_the_seat_and_the_next_best_mentor_is_proposed(
    matching: Matching,
) -> None:
    await matching.profile(mentor("M-BEST", skills=[{"name": "kafka", "level": "expert"}]))
    await matching.profile(mentor("M-NEXT", skills=[{"name": "kafka", "level": "working"}]))
    await matching.profile(snapshot("NEW-D", goals=["kafka"]))
    first = (await matching.events(1))[0]["payload"]
    await _respond(matching, first["match_id"], "M-BEST", "decline", reason="no_capacity")
    events = await matching.events(3)

    declined = _of_type(events, "matching.match_declined")
    proposals = _of_type(events, "matching.match_proposed")
    assert first["mentor_id"] == "M-BEST"
    assert declined[0]["payload"]["will_rematch"] is True
    assert sorted(p["payload"]["mentor_id"] for p in proposals) == ["M-BEST", "M-NEXT"]


async def test_an_answer_from_someone_outside_the_proposal_is_dead_lettered_with_the_reason(
    matching: Matching,
) -> None:
    await matching.profile(mentor("M-S"))
    await matching.profile(snapshot("NEW-S"))
    proposal = (await matching.events(1))[0]["payload"]
    await _respond(matching, proposal["match_id"], "INTRUDER", "accept")
    dead = await wait_for_records(
        matching.infra.kafka_bootstrap,
        f"{matching.settings.topic(MATCHING_COMMANDS.name)}.dlq",
        lambda r: len(r) >= 1,
    )
    assert "only the proposed mentor or mentee" in dead[0].headers["dlq.reason"]


async def test_when_a_mentor_leaves_the_match_ends_and_the_mentee_is_proposed_someone_else(
    matching: Matching,
) -> None:
    await matching.profile(mentor("M-LEAVER", skills=[{"name": "go", "level": "expert"}]))
    await matching.profile(snapshot("NEW-L", goals=["go"]))
    first = (await matching.events(1))[0]["payload"]
    await matching.profile(mentor("M-STAYS", skills=[{"name": "go", "level": "working"}]))
    await matching.profile(
        mentor("M-LEAVER", revision=2, status="deactivated", skills=[{"name": "go", "level": "expert"}])
    )
    events = await matching.events(3)

    ended = _of_type(events, "matching.match_ended")
    proposals = _of_type(events, "matching.match_proposed")
    assert first["mentor_id"] == "M-LEAVER"
    assert [(e["payload"]["match_id"], e["payload"]["reason"]) for e in ended] == [
        (first["match_id"], "mentor_left")
    ]
    assert sorted(p["payload"]["mentor_id"] for p in proposals) == ["M-LEAVER", "M-STAYS"]
    assert all(p["payload"]["mentee_id"] == "NEW-L" for p in proposals)


async def test_when_a_mentee_leaves_their_match_ends_and_the_seat_goes_to_the_waitlist(
    matching: Matching,
) -> None:
    await matching.profile(mentor("M-SOLO", capacity=1))
    await matching.profile(snapshot("NEW-FIRST", team="data"))
    await matching.events(1)
    await matching.profile(snapshot("NEW-SECOND", team="data"))
    await matching.events(2)  # the second waits: one seat only
    await matching.profile(snapshot("NEW-FIRST", revision=2, team="data", status="deactivated"))
    events = await matching.events(4)

    ended = _of_type(events, "matching.match_ended")
    proposals = _of_type(events, "matching.match_proposed")
    assert [e["payload"]["reason"] for e in ended] == ["mentee_left"]
    assert sorted(p["payload"]["mentee_id"] for p in proposals) == ["NEW-FIRST", "NEW-SECOND"]


async def test_a_cohort_round_finds_the_best_assignment_for_everyone_waiting(matching: Matching) -> None:
    growth: dict[str, Any] = {"programmes": ["career-growth"], "level": "mid"}
    await matching.profile(
        mentor(
            "M-X",
            capacity=1,
            skills=[{"name": "kafka", "level": "expert"}, {"name": "sql", "level": "expert"}],
        )
    )
    await matching.profile(mentor("M-Y", capacity=1, skills=[{"name": "kafka", "level": "expert"}]))
    # A is served equally well by either mentor; B only by M-X; C by nobody in particular.
    await matching.profile(snapshot("G-A", goals=["kafka"], team="data", **growth))
    await matching.profile(snapshot("G-B", goals=["sql"], team="data", **growth))
    await matching.profile(snapshot("G-C", goals=["design"], team="data", **growth))
    await eventually(lambda: _known(matching, 5), what="the pool holding all five people")
    round_command = {
        "event_id": "round-1",
        "type": "matching.run_cohort_round",
        "source": "ops",
        "occurred_at": "2026-12-01T08:00:00Z",
        "payload": {"round_id": "round-1", "programme_id": "career-growth", "requested_by": "OPS"},
    }
    await produce(
        matching.infra.kafka_bootstrap,
        matching.settings.topic(MATCHING_COMMANDS.name),
        json.dumps(round_command).encode(),
        key=b"career-growth",
    )
    events = await matching.events(4)

    proposals = {
        p["payload"]["mentee_id"]: p["payload"]["mentor_id"]
        for p in _of_type(events, "matching.match_proposed")
    }
    summary = _of_type(events, "matching.cohort_round_completed")[0]["payload"]
    assert proposals == {"G-A": "M-Y", "G-B": "M-X"}
    assert all(p["payload"]["round_id"] == "round-1" for p in _of_type(events, "matching.match_proposed"))
    assert (summary["proposed"], summary["waitlisted"], summary["optimal"]) == (2, 1, True)
    assert [w["payload"]["person_id"] for w in _of_type(events, "matching.request_waitlisted")] == ["G-C"]


async def _known(matching: Matching, count: int) -> bool:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(matching.infra.mongo_url)
    try:
        return await client[matching.settings.database_name]["candidates"].count_documents({}) >= count
    finally:
        await client.close()
