"""The matching read API on the real stack: explanations, the waitlist and mentor load."""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import SecretStr

from services.matching.app import MatchingSettings, definition
from services.runtime.service import create_app
from tests.support.infrastructure import Infrastructure
from tests.support.matching import Matching, mentor, snapshot
from tests.support.services import settings_for
from tests.support.waiting import eventually

TOKEN = "matching-token"


async def test_people_see_their_matches_with_the_reasons_and_operators_see_waitlist_and_load(
    infrastructure: Infrastructure, namespace: str
) -> None:
    settings = settings_for(MatchingSettings, infrastructure, namespace).model_copy(
        update={"api_token": SecretStr(TOKEN)}
    )
    app = create_app(definition, settings)
    async with app.router.lifespan_context(app):
        matching = Matching(infrastructure, settings)
        await matching.profile(mentor("M-API", capacity=1, skills=[{"name": "sql", "level": "expert"}]))
        await matching.profile(snapshot("NEW-API-1", goals=["sql"], team="data"))
        await matching.profile(snapshot("NEW-API-2", goals=["sql"], team="data"))
        await matching.events(2)
        auth = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://m") as http:
            proposed_to = [
                (await http.get(f"/people/{p}/matches", headers=auth)).json()
                for p in ("NEW-API-1", "NEW-API-2")
            ]
            waitlist = (await http.get("/waitlist", headers=auth)).json()
            load = (await http.get("/mentors/M-API/load", headers=auth)).json()
            anonymous = await http.get("/people/NEW-API-1/matches")

    matched = [views for views in proposed_to if views]
    assert len(matched) == 1
    view = matched[0][0]
    assert (view["mentor_id"], view["state"]) == ("M-API", "proposed")
    assert {c["criterion"] for c in view["breakdown"]} >= {"skill_coverage", "availability_overlap"}
    assert waitlist == {"onboarding": 1}
    assert load == {"mentor_id": "M-API", "capacity": 1, "seats_held": 1}
    assert anonymous.status_code == 401


async def test_a_person_sees_their_advisory_board_seats_and_their_circle(
    infrastructure: Infrastructure, namespace: str
) -> None:
    settings = settings_for(MatchingSettings, infrastructure, namespace).model_copy(
        update={"api_token": SecretStr(TOKEN)}
    )
    app = create_app(definition, settings)
    async with app.router.lifespan_context(app):
        matching = Matching(infrastructure, settings)
        for goal in ("finance", "hiring"):
            await matching.profile(mentor(f"M-{goal}", skills=[{"name": goal, "level": "expert"}]))
        peers: dict[str, Any] = {"programmes": ["circles"], "level": "mid", "interests": ["finance"]}
        await matching.profile(snapshot("P-READ", goals=["finance", "hiring"], **peers))
        for n in range(3):
            await matching.profile(snapshot(f"P-PEER-{n}", **peers))
        await eventually(lambda: matching.known(6), what="the pool holding all six people")
        await matching.request("P-READ", "advisory_board")
        await matching.round("circles-read", "circles")
        await matching.events(3)  # the board, the circle, the round's summary
        auth = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://m") as http:
            seats = (await http.get("/people/P-READ/matches", headers=auth)).json()
            circles = (await http.get("/people/P-READ/circles", headers=auth)).json()

    assert sorted((s["kind"], s["state"], s["strength"]) for s in seats) == [
        ("advisory_board", "confirmed", "finance"),
        ("advisory_board", "confirmed", "hiring"),
    ]
    assert len({s["board_id"] for s in seats}) == 1
    assert [(c["topic"], len(c["member_ids"])) for c in circles] == [("finance", 4)]
