"""The profile service through a person's life, on the real stack: HR events, own settings,
external mentors, refusals and the read API."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from contracts.catalogue import HR_EMPLOYEES, PROFILE_COMMANDS, PROFILE_EVENTS
from services.profile.app import ProfileSettings, definition
from services.runtime.service import create_app
from tests.support.builders import onboarding_json
from tests.support.infrastructure import Infrastructure
from tests.support.kafka import Record, produce, wait_for_records
from tests.support.services import settings_for
from tests.support.waiting import eventually

TOKEN = "test-token"
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class Harness:
    def __init__(self, infra: Infrastructure, settings: ProfileSettings, client: httpx.AsyncClient) -> None:
        self.infra = infra
        self.settings = settings
        self.http = client

    async def hr(self, kind: str, employee_id: str, minutes: int, **payload: Any) -> None:
        if kind == "employee.onboarded":
            body = onboarding_json(employee_id, **payload)
            body["occurred_at"] = (T0 + timedelta(minutes=minutes)).isoformat()
        else:
            body = {
                "event_id": f"{kind}-{employee_id}-{minutes}",
                "type": kind,
                "source": "hr",
                "occurred_at": (T0 + timedelta(minutes=minutes)).isoformat(),
                "payload": {"employee_id": employee_id, **payload},
            }
        await self._send(HR_EMPLOYEES.name, employee_id, body)

    async def command(self, kind: str, person_id: str, **payload: Any) -> None:
        body = {
            "event_id": f"{kind}-{person_id}-{len(json.dumps(payload))}",
            "type": kind,
            "source": "web",
            "occurred_at": datetime.now(UTC).isoformat(),
            "payload": {"person_id": person_id, **payload},
        }
        await self._send(PROFILE_COMMANDS.name, person_id, body)

    async def _send(self, topic: str, key: str, body: dict[str, Any]) -> None:
        await produce(
            self.infra.kafka_bootstrap, self.settings.topic(topic), json.dumps(body).encode(), key.encode()
        )

    async def events_for(self, person_id: str, count: int) -> list[dict[str, Any]]:
        def enough(records: list[Record]) -> bool:
            return len([r for r in records if r.key == person_id.encode()]) >= count

        records = await wait_for_records(
            self.infra.kafka_bootstrap, self.settings.topic(PROFILE_EVENTS.name), enough
        )
        return [json.loads(r.value or b"") for r in records if r.key == person_id.encode()]

    async def dead_letters(self, topic: str, count: int) -> list[Record]:
        return await wait_for_records(
            self.infra.kafka_bootstrap, f"{self.settings.topic(topic)}.dlq", lambda r: len(r) >= count
        )


@pytest.fixture
async def profile(infrastructure: Infrastructure, namespace: str) -> AsyncIterator[Harness]:
    settings = settings_for(ProfileSettings, infrastructure, namespace)
    settings = settings.model_copy(update={"api_token": SecretStr(TOKEN)})
    app = create_app(definition, settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://profile") as client:
            yield Harness(infrastructure, settings, client)


async def test_update_leave_return_and_offboarding_each_publish_the_new_snapshot(profile: Harness) -> None:
    await profile.hr("employee.onboarded", "E1", 0, team="payments")
    await profile.hr("employee.updated", "E1", 1, team="platform", level="senior")
    await profile.hr("employee.leave_started", "E1", 2, starts_on="2027-01-04")
    await profile.hr("employee.leave_ended", "E1", 3, returned_on="2027-03-01")
    await profile.hr("employee.offboarded", "E1", 4)
    events = await profile.events_for("E1", 5)

    assert [e["type"] for e in events] == ["profile.created"] + ["profile.updated"] * 3 + [
        "profile.deactivated"
    ]
    assert [e["payload"]["revision"] for e in events] == [1, 2, 3, 4, 5]
    assert (events[1]["payload"]["team"], events[1]["payload"]["level"]) == ("platform", "senior")
    assert events[2]["payload"]["status"] == "on_leave"
    assert events[3]["payload"]["status"] == "active"
    assert events[4]["payload"]["snapshot"]["status"] == "deactivated"


async def test_an_update_delivered_before_its_onboarding_is_applied_when_the_profile_appears(
    profile: Harness,
) -> None:
    await profile.hr("employee.updated", "E2", 5, team="data")
    await profile.hr("employee.onboarded", "E2", 0, team="payments")
    events = await profile.events_for("E2", 1)

    assert events[0]["type"] == "profile.created"
    assert events[0]["payload"]["team"] == "data"


async def test_a_work_email_already_used_by_another_active_person_is_refused_not_merged(
    profile: Harness,
) -> None:
    await profile.hr("employee.onboarded", "E3", 0, work_email="shared@example.com")
    await profile.hr("employee.onboarded", "E4", 0, work_email="Shared@example.com")
    dead = await profile.dead_letters(HR_EMPLOYEES.name, 1)
    await profile.hr("employee.onboarded", "E5", 0)
    await profile.events_for("E5", 1)

    assert "work email already belongs to another active person" in dead[0].headers["dlq.reason"]
    assert dead[0].key == b"E4"
    missing = await profile.http.get("/profiles/E4", headers={"Authorization": f"Bearer {TOKEN}"})
    assert missing.status_code == 404


async def test_the_work_email_of_someone_who_left_can_be_given_to_a_new_hire(profile: Harness) -> None:
    await profile.hr("employee.onboarded", "E20", 0, work_email="seat@example.com")
    await profile.hr("employee.offboarded", "E20", 1)
    await profile.events_for("E20", 2)
    await profile.hr("employee.onboarded", "E21", 2, work_email="seat@example.com")
    events = await profile.events_for("E21", 1)

    assert events[0]["type"] == "profile.created"
    assert events[0]["payload"]["email"] == "seat@example.com"


async def test_people_set_their_own_skills_goals_availability_and_mentoring_preferences(
    profile: Harness,
) -> None:
    await profile.hr("employee.onboarded", "E6", 0)
    await profile.events_for("E6", 1)
    await profile.command(
        "profile.update",
        "E6",
        skills=[{"name": "Kafka", "level": "expert"}],
        goals=["leadership"],
        languages=["en", "pt-BR"],
        availability=[{"weekday": "wednesday", "start": "14:00", "end": "16:00"}],
        mentor={"opted_in": True, "capacity": 2},
        preferences={"reverse_mentorship": True, "same_team_allowed": False, "max_time_zone_gap_hours": 5},
    )
    events = await profile.events_for("E6", 2)
    snapshot = events[1]["payload"]

    assert events[1]["type"] == "profile.updated"
    assert snapshot["skills"] == [{"name": "kafka", "level": "expert"}]
    assert snapshot["mentor"] == {"opted_in": True, "capacity": 2}
    assert snapshot["availability"] == [{"weekday": "wednesday", "start": "14:00:00", "end": "16:00:00"}]
    assert snapshot["preferences"]["reverse_mentorship"] is True


async def test_a_command_for_someone_without_a_profile_is_dead_lettered_with_the_reason(
    profile: Harness,
) -> None:
    await profile.command("profile.update", "NOBODY", goals=["go"])
    dead = await profile.dead_letters(PROFILE_COMMANDS.name, 1)
    assert "there is no profile for this person yet" in dead[0].headers["dlq.reason"]


async def test_an_external_mentor_can_be_registered_and_found_as_an_available_mentor(
    profile: Harness,
) -> None:
    await profile.command(
        "profile.register_external_mentor",
        "X-ACME-1",
        display_name="Priya Raman",
        email="priya@acme.example",
        organisation="Acme",
        time_zone="Asia/Kolkata",
        skills=[{"name": "leadership", "level": "expert"}],
        capacity=2,
    )
    events = await profile.events_for("X-ACME-1", 1)
    found = await profile.http.get(
        "/profiles", params={"available_mentors": "true"}, headers={"Authorization": f"Bearer {TOKEN}"}
    )

    assert events[0]["payload"]["external"] is True
    assert [p["person_id"] for p in found.json()["items"]] == ["X-ACME-1"]


async def test_the_read_api_finds_people_by_skill_and_team_page_by_page(profile: Harness) -> None:
    for index in range(5):
        await profile.hr(
            "employee.onboarded",
            f"S{index}",
            0,
            team="payments",
            skills=[{"name": "sql", "level": "working"}],
        )
    await profile.hr(
        "employee.onboarded", "S9", 0, team="mobile", skills=[{"name": "sql", "level": "working"}]
    )
    for index in (*range(5), 9):
        await profile.events_for(f"S{index}", 1)
    auth = {"Authorization": f"Bearer {TOKEN}"}

    first = (
        await profile.http.get(
            "/profiles", params={"skill": "SQL", "team": "payments", "limit": 3}, headers=auth
        )
    ).json()
    rest = (
        await profile.http.get(
            "/profiles",
            params={"skill": "sql", "team": "payments", "limit": 3, "after": first["next_after"]},
            headers=auth,
        )
    ).json()
    one = await profile.http.get("/profiles/S9", headers=auth)

    assert [p["person_id"] for p in first["items"]] == ["S0", "S1", "S2"]
    assert [p["person_id"] for p in rest["items"]] == ["S3", "S4"]
    assert rest["next_after"] is None
    assert one.json()["team"] == "mobile"


async def test_personal_data_is_refused_without_a_valid_token(profile: Harness) -> None:
    await profile.hr("employee.onboarded", "E7", 0)
    await profile.events_for("E7", 1)
    anonymous = await profile.http.get("/profiles/E7")
    wrong = await profile.http.get("/profiles/E7", headers={"Authorization": "Bearer guess"})
    health = await profile.http.get("/health/ready")

    assert anonymous.status_code == 401
    assert wrong.status_code == 401
    assert "E7" not in wrong.text
    assert health.status_code == 200


async def test_shuffled_and_repeated_hr_events_end_in_the_same_profile_as_in_order_delivery(
    profile: Harness,
) -> None:
    def history(person: str) -> list[tuple[str, int, dict[str, Any]]]:
        return [
            ("employee.onboarded", 0, {"team": "payments", "time_zone": "Europe/Berlin"}),
            ("employee.updated", 1, {"team": "platform", "level": "mid"}),
            ("employee.leave_started", 2, {"starts_on": "2027-01-04"}),
            ("employee.updated", 3, {"time_zone": "Asia/Tokyo", "title": "Staff Engineer"}),
            ("employee.leave_ended", 4, {"returned_on": "2027-02-01"}),
            ("employee.updated", 5, {"manager_id": "M-9"}),
        ]

    async def deliver(person: str, order: list[int]) -> None:
        steps = history(person)
        for index in order:
            kind, minute, payload = steps[index]
            if kind == "employee.onboarded":
                # Same event id on every delivery, as a real redelivery would carry.
                body = onboarding_json(person, **payload)
                body["event_id"] = f"onboarded-{person}"
                body["occurred_at"] = (T0 + timedelta(minutes=minute)).isoformat()
                await profile._send(HR_EMPLOYEES.name, person, body)
            else:
                await profile.hr(kind, person, minute, **payload)

    await deliver("IN-ORDER", [0, 1, 2, 3, 4, 5])
    await deliver("SHUFFLED", [3, 5, 1, 0, 4, 3, 2, 0, 5])
    auth = {"Authorization": f"Bearer {TOKEN}"}

    async def final(person: str) -> dict[str, Any]:
        async def settled() -> bool:
            response = await profile.http.get(f"/profiles/{person}", headers=auth)
            return response.status_code == 200 and response.json()["manager_id"] == "M-9"

        await eventually(settled, what=f"{person} reaching its final state")
        snapshot: dict[str, Any] = (await profile.http.get(f"/profiles/{person}", headers=auth)).json()
        return {k: v for k, v in snapshot.items() if k not in ("person_id", "email", "revision")}

    in_order, shuffled = await final("IN-ORDER"), await final("SHUFFLED")
    assert shuffled == in_order
    assert (in_order["team"], in_order["time_zone"], in_order["status"]) == (
        "platform",
        "Asia/Tokyo",
        "active",
    )
