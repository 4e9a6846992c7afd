"""Read API over HTTP: a person's matches and circles with their explanations, the waitlist
per programme, a mentor's load."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel

from contracts.matching import ScoreComponent
from services.matching.store import MatchingStore
from services.runtime.http_auth import require_token
from services.runtime.service import Runtime


class MatchView(BaseModel):
    match_id: str
    kind: str
    state: str
    programme_id: str
    mentor_id: str
    mentee_id: str
    score: float
    breakdown: list[ScoreComponent]
    accepted_by: list[str]
    board_id: str | None = None
    strength: str | None = None
    replaces_match_id: str | None = None


class CircleView(BaseModel):
    circle_id: str
    programme_id: str
    topic: str
    facilitator_id: str | None
    member_ids: list[str]


class MentorLoad(BaseModel):
    mentor_id: str
    capacity: int
    seats_held: int


def build_http(runtime: Runtime) -> APIRouter:
    store = MatchingStore(runtime.db)
    api = APIRouter(tags=["matching"], dependencies=[Depends(require_token(runtime.settings))])

    @api.get("/people/{person_id}/matches")
    async def matches_of(person_id: str) -> list[MatchView]:
        """Every match, proposal and board seat of the person, with why it was made."""
        return [
            MatchView(
                match_id=doc["_id"],
                kind=doc.get("kind", "one_to_one"),
                state=doc["state"],
                programme_id=doc["programme_id"],
                mentor_id=doc["mentor_id"],
                mentee_id=doc["mentee_id"],
                score=doc["score"],
                breakdown=doc.get("breakdown", []),
                accepted_by=doc["accepted_by"],
                board_id=doc.get("board_id"),
                strength=doc.get("strength"),
                replaces_match_id=doc.get("replaces"),
            )
            for doc in await store.matches_of(person_id)
        ]

    @api.get("/people/{person_id}/circles")
    async def circles_of(person_id: str) -> list[CircleView]:
        return [
            CircleView(
                circle_id=doc["_id"],
                programme_id=doc["programme_id"],
                topic=doc["topic"],
                facilitator_id=doc.get("facilitator_id"),
                member_ids=doc["member_ids"],
            )
            for doc in await store.circles_of(person_id)
        ]

    @api.get("/waitlist")
    async def waitlist() -> dict[str, int]:
        """Waiting requests per programme."""
        return await store.waitlist_sizes()

    @api.get("/mentors/{mentor_id}/load")
    async def load(mentor_id: str) -> MentorLoad:
        snapshot = await store.snapshot_of(mentor_id)
        if snapshot is None:
            raise HTTPException(404, f"{mentor_id} is not known to matching")
        capacity = snapshot.mentor.capacity if snapshot.mentor.opted_in else 0
        return MentorLoad(
            mentor_id=mentor_id, capacity=capacity, seats_held=(await store.seats_held())[mentor_id]
        )

    return api
