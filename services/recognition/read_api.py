"""Read API over HTTP (bearer token): a person's points, badges and kudos; leaderboards."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel

from services.recognition.boards import leaderboard
from services.recognition.standings import (
    EVERY_PROGRAMME,
    average_rating,
    field_name,
    period_keys,
    resolve_period,
    score,
    totals_from,
)
from services.recognition.store import RecognitionStore
from services.runtime.http_auth import require_token
from services.runtime.mongo import aware
from services.runtime.service import Runtime


class PeriodTotals(BaseModel):
    period: str
    points: int
    sessions: int
    score: float
    average_rating: float | None


class BadgeView(BaseModel):
    badge: str
    criteria: str
    awarded_at: datetime


class KudosView(BaseModel):
    kudos_id: str
    from_id: str
    message: str
    session_id: str | None
    given_at: datetime


class Recognition(BaseModel):
    person_id: str
    totals: list[PeriodTotals]
    badges: list[BadgeView]
    kudos: list[KudosView]


class Line(BaseModel):
    rank: int
    person_id: str
    score: float
    points: int
    sessions: int
    average_rating: float | None


class Leaderboard(BaseModel):
    period: str
    scope: str
    lines: list[Line]


def build_http(runtime: Runtime) -> APIRouter:
    store = RecognitionStore(runtime.db)
    api = APIRouter(tags=["recognition"], dependencies=[Depends(require_token(runtime.settings))])

    @api.get("/people/{person_id}/recognition")
    async def recognition_of(
        person_id: str, kudos_limit: int = Query(default=20, ge=0, le=200)
    ) -> Recognition:
        """Points this month, this quarter and all time; badges; the latest kudos received."""
        totals = []
        for period in period_keys(datetime.now(UTC)):
            t = totals_from(await store.standings(period).find_one({"_id": person_id}))
            totals.append(
                PeriodTotals(
                    period=period,
                    points=t.points,
                    sessions=t.sessions,
                    score=score(t),
                    average_rating=average_rating(t),
                )
            )
        badges = [
            BadgeView(badge=b["badge"], criteria=b["criteria"], awarded_at=aware(b["at"]))
            async for b in store.badges.find({"person_id": person_id}).sort("at", 1)
        ]
        kudos = [
            KudosView(
                kudos_id=k["_id"],
                from_id=k["from_id"],
                message=k["message"],
                session_id=k.get("session_id"),
                given_at=aware(k["at"]),
            )
            async for k in store.kudos.find({"to_id": person_id}).sort("at", -1).limit(kudos_limit)
        ]
        return Recognition(person_id=person_id, totals=totals, badges=badges, kudos=kudos)

    @api.get("/leaderboards")
    async def leaderboards(
        period: str = Query(default="month", description="month, quarter, all, YYYY-MM or YYYY-qN"),
        team: str | None = None,
        programme: str | None = None,
        limit: int = Query(default=20, ge=1, le=1000),
    ) -> Leaderboard:
        """The best by feedback-weighted score (see the README); at most a refresh interval old."""
        try:
            key = resolve_period(period, datetime.now(UTC).date())
        except ValueError as error:
            raise HTTPException(422, str(error)) from error
        if team and programme:
            raise HTTPException(422, "ask for a team or a programme board, not both")
        scope = (
            f"team:{team}" if team else f"programme:{field_name(programme)}" if programme else EVERY_PROGRAMME
        )
        lines = await leaderboard(store, key, scope)
        return Leaderboard(
            period=key,
            scope=scope,
            lines=[Line(rank=n, **line) for n, line in enumerate(lines[:limit], start=1)],
        )

    return api
