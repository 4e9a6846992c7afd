"""Every form of mentorship on the real stack: reverse mentors, external mentors, personal
advisory boards and peer circles, each asked for with a request or formed in a round."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from services.matching.app import MatchingSettings, definition
from services.runtime.service import running
from tests.support.infrastructure import Infrastructure
from tests.support.matching import Matching, mentor, of_type, snapshot
from tests.support.services import settings_for
from tests.support.waiting import eventually


@pytest.fixture
async def matching(infrastructure: Infrastructure, namespace: str) -> AsyncIterator[Matching]:
    settings = settings_for(MatchingSettings, infrastructure, namespace)
    async with running(definition, settings):
        yield Matching(infrastructure, settings)


def _person(person_id: str, **fields: Any) -> Any:
    """Someone outside the onboarding programme, so only a request or a round matches them."""
    return snapshot(person_id, **{"programmes": [], **fields})


async def test_a_senior_asking_for_reverse_mentoring_gets_a_junior_who_knows_their_goal(
    matching: Matching,
) -> None:
    reverse = {"reverse_mentorship": True}
    await matching.profile(
        _person(
            "J-GENAI",
            level="junior",
            team="data",
            preferences=reverse,
            skills=[{"name": "genai", "level": "proficient"}],
        )
    )
    await matching.profile(
        _person(
            "J-OTHER",
            level="junior",
            team="data",
            preferences=reverse,
            skills=[{"name": "css", "level": "expert"}],
        )
    )
    await matching.profile(
        _person("J-UNWILLING", level="junior", team="data", skills=[{"name": "genai", "level": "expert"}])
    )
    await matching.profile(_person("S-LEAD", level="principal", team="platform", goals=["genai"]))
    await eventually(lambda: matching.known(4), what="the pool holding all four people")
    await matching.request("S-LEAD", "reverse")
    proposal = (await matching.events(1))[0]["payload"]

    assert (proposal["kind"], proposal["mentor_id"], proposal["mentee_id"]) == (
        "reverse",
        "J-GENAI",
        "S-LEAD",
    )
    assert proposal["programme_id"] == "reverse-mentoring"


async def test_an_external_mentor_is_proposed_only_to_someone_who_asks_for_one(matching: Matching) -> None:
    await matching.profile(mentor("X-ACME", external=True, skills=[{"name": "pricing", "level": "expert"}]))
    await matching.profile(snapshot("NEW-IN", goals=["pricing"]))
    waiting = (await matching.events(1))[0]
    await matching.profile(_person("P-ASKS", goals=["pricing"], level="mid"))
    await eventually(lambda: matching.known(3), what="the pool holding all three people")
    await matching.request("P-ASKS", "external")
    proposal = of_type(await matching.events(2), "match_proposed")[0]["payload"]

    assert waiting["type"] == "matching.request_waitlisted"
    assert (proposal["kind"], proposal["mentor_id"], proposal["mentee_id"]) == (
        "external",
        "X-ACME",
        "P-ASKS",
    )


async def test_an_advisory_board_seats_mentors_for_different_goals_not_the_best_generalist_thrice(
    matching: Matching,
) -> None:
    def expert(*skills: str) -> list[dict[str, str]]:
        return [{"name": s, "level": "expert"} for s in skills]

    await matching.profile(mentor("M-GENERAL", skills=expert("strategy", "finance", "hiring")))
    await matching.profile(mentor("M-FINANCE", skills=expert("finance")))
    await matching.profile(mentor("M-HIRING", skills=expert("hiring")))
    await matching.profile(mentor("M-PUBLIC", skills=expert("public-speaking")))
    await matching.profile(
        _person("P-BOARD", level="mid", goals=["strategy", "finance", "hiring", "public-speaking"])
    )
    await eventually(lambda: matching.known(5), what="the pool holding all five people")
    await matching.request("P-BOARD", "advisory_board")
    board = (await matching.events(1))[0]

    seats = board["payload"]["seats"]
    assert board["type"] == "matching.advisory_board_formed"
    assert len(seats) == 3
    assert len({s["mentor_id"] for s in seats}) == 3
    assert len({s["strength"] for s in seats}) == 3


async def test_a_circles_round_groups_peers_by_shared_interest_and_each_person_once(
    matching: Matching,
) -> None:
    circles = {"programmes": ["circles"], "team": "data"}
    for n in range(5):
        await matching.profile(_person(f"C-RUST-{n}", level="mid", interests=["rust"], **circles))
    for n in range(4):
        await matching.profile(_person(f"C-UX-{n}", level="senior", interests=["ux"], **circles))
    await matching.profile(_person("C-ALONE", level="mid", interests=["knitting"], **circles))
    await eventually(lambda: matching.known(10), what="the pool holding all ten people")
    await matching.round("circles-1", "circles")
    events = await matching.events(4)  # two circles, one waitlisted, the round's summary

    formed = [e["payload"] for e in of_type(events, "circle_formed")]
    members = [m for circle in formed for m in circle["member_ids"]]
    assert sorted(c["topic"] for c in formed) == ["rust", "ux"]
    assert all(4 <= len(c["member_ids"]) <= 6 for c in formed)
    assert len(members) == len(set(members)) == 9
    assert [w["payload"]["person_id"] for w in of_type(events, "request_waitlisted")] == ["C-ALONE"]
    summary = of_type(events, "cohort_round_completed")[0]["payload"]
    assert (summary["proposed"], summary["waitlisted"]) == (9, 1)


async def test_asking_for_a_circle_puts_the_person_in_line_for_the_next_round(matching: Matching) -> None:
    await matching.profile(_person("P-CIRCLE", interests=["sql"]))
    await eventually(lambda: matching.known(1), what="the person remembered")
    await matching.request("P-CIRCLE", "peer_circle")
    waiting = (await matching.events(1))[0]["payload"]

    assert (waiting["kind"], waiting["programme_id"]) == ("peer_circle", "circles")
    assert waiting["reason"] == "Waiting for the next circles round"


async def test_a_request_for_a_programme_that_does_not_exist_is_dead_lettered_with_the_reason(
    matching: Matching,
) -> None:
    await matching.profile(_person("P-LOST"))
    await eventually(lambda: matching.known(1), what="the person remembered")
    await matching.request("P-LOST", "one_to_one", programme_id="no-such-programme")
    dead = await matching.dead_letters(1)

    assert "there is no programme 'no-such-programme'" in dead[0].headers["dlq.reason"]
