"""Recognition's read API and digests on the real stack: a person's points, badges and kudos;
leaderboards by period and team behind the bearer token; one digest per team (to its
managers) and per programme for a finished month, however often the digest task runs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from services.recognition.app import definition
from services.recognition.boards import emit_digests, refresh_leaderboards
from services.recognition.read_api import build_http
from services.recognition.settings import RecognitionSettings
from services.recognition.store import RecognitionStore
from services.runtime.service import Runtime, running
from tests.support.infrastructure import Infrastructure
from tests.support.recognition import Recognition, completed, kudos, person
from tests.support.services import settings_for

TOKEN = "test-token"
OCTOBER = datetime(2026, 10, 12, 10, 0, tzinfo=UTC)


@pytest.fixture
async def service(
    infrastructure: Infrastructure, namespace: str
) -> AsyncIterator[tuple[Recognition, Runtime]]:
    settings = settings_for(RecognitionSettings, infrastructure, namespace).model_copy(
        update={"api_token": SecretStr(TOKEN), "programme_owners": {"onboarding": ["OWNER"]}}
    )
    async with running(definition, settings) as runtime:
        recognition = Recognition(infrastructure, settings, runtime.db)
        await recognition.send(
            person("ANA", team="platform", manager_id="BOSS"),
            person("EVE", team="data", manager_id="DANA"),
            person("IVY", team="data", manager_id="DAVE"),
        )
        await recognition.people_known(3)
        await recognition.send(
            *[
                completed(f"s-{n}", "ANA", ["EVE", "IVY"], OCTOBER + timedelta(days=n), ratings={"EVE": 5})
                for n in range(2)
            ],
            kudos("k-1", "EVE", "ANA", OCTOBER + timedelta(days=3)),
        )
        await recognition.settled()
        await refresh_leaderboards(RecognitionStore(runtime.db), settings)
        yield recognition, runtime


@pytest.fixture
async def client(service: tuple[Recognition, Runtime]) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.include_router(build_http(service[1]))
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://recognition", headers=headers) as http:
        yield http


async def test_a_person_sees_their_points_badges_and_kudos(client: httpx.AsyncClient) -> None:
    response = await client.get("/people/ANA/recognition")

    assert response.status_code == 200
    body = response.json()
    all_time = next(t for t in body["totals"] if t["period"] == "all")
    assert all_time["points"] == 2 * (10 + 5) + 3
    assert all_time["sessions"] == 2
    assert all_time["average_rating"] == 5.0
    assert [b["badge"] for b in body["badges"]] == ["first_session"]
    assert [(k["kudos_id"], k["from_id"]) for k in body["kudos"]] == [("k-1", "EVE")]


async def test_leaderboards_by_period_and_team(client: httpx.AsyncClient) -> None:
    overall = (await client.get("/leaderboards", params={"period": "2026-10"})).json()
    quarter = (await client.get("/leaderboards", params={"period": "2026-q4", "team": "data"})).json()
    empty = (await client.get("/leaderboards", params={"period": "2026-09"})).json()

    assert [line["person_id"] for line in overall["lines"]] == ["ANA", "EVE", "IVY"]
    assert overall["lines"][0]["rank"] == 1
    assert quarter["scope"] == "team:data"
    assert {line["person_id"] for line in quarter["lines"]} == {"EVE", "IVY"}
    assert empty["lines"] == []
    assert (await client.get("/leaderboards", params={"period": "someday"})).status_code == 422


async def test_the_read_api_refuses_callers_without_the_token(client: httpx.AsyncClient) -> None:
    for path in ("/people/ANA/recognition", "/leaderboards"):
        response = await client.get(path, headers={"Authorization": "Bearer wrong"})
        assert response.status_code == 401


async def test_a_finished_month_is_digested_once_per_team_and_programme(
    service: tuple[Recognition, Runtime],
) -> None:
    recognition, runtime = service
    store = RecognitionStore(runtime.db)
    settings = recognition.settings
    assert isinstance(settings, RecognitionSettings)

    first = await emit_digests(store, runtime.publisher, settings, date(2026, 11, 3))
    again = await emit_digests(store, runtime.publisher, settings, date(2026, 11, 20))

    assert (first, again) == (3, 0)
    digests = {
        (e["payload"]["scope"], e["payload"]["scope_id"]): e["payload"]
        for e in await recognition.events()
        if e["type"] == "recognition.digest_ready"
    }
    assert set(digests) == {("team", "platform"), ("team", "data"), ("programme", "onboarding")}
    assert digests[("team", "data")]["recipient_ids"] == ["DANA", "DAVE"]
    assert digests[("team", "platform")]["recipient_ids"] == ["BOSS"]
    assert digests[("programme", "onboarding")]["recipient_ids"] == ["OWNER"]
    assert (digests[("team", "data")]["period_start"], digests[("team", "data")]["period_end"]) == (
        "2026-10-01",
        "2026-10-31",
    )
    ana = digests[("team", "platform")]["lines"][0]
    assert (ana["person_id"], ana["sessions"], ana["badges"]) == ("ANA", 2, [])
