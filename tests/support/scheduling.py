"""Office-hours and group-session test helpers: people as the profile service publishes them,
commands as other systems send them, and scheduling's events read back from the real broker."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, time, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from pymongo.asynchronous.database import AsyncDatabase

from contracts.catalogue import PROFILE_EVENTS, SCHEDULING_COMMANDS, SCHEDULING_EVENTS
from contracts.common import Weekday
from contracts.envelope import Envelope
from contracts.profile import ProfileCreated, ProfileSnapshot
from contracts.scheduling import (
    AnnounceGroupSession,
    AnnounceGroupSessionData,
    BookOfficeHours,
    BookOfficeHoursData,
    CancelGroupRegistration,
    CancelOfficeHoursBooking,
    CancelOfficeHoursBookingData,
    GroupRegistrationData,
    PublishOfficeHours,
    PublishOfficeHoursData,
    RegisterForGroupSession,
)
from services.runtime.mongo import Document
from services.runtime.service import Runtime, running
from services.scheduling.app import definition
from services.scheduling.groups import group_routes
from services.scheduling.office_hours import office_hours_routes
from services.scheduling.settings import SchedulingSettings
from tests.support.infrastructure import Infrastructure
from tests.support.kafka import Record, group_caught_up, produce, read_all, wait_for_records
from tests.support.services import settings_for
from tests.support.waiting import eventually

SOURCE = "tests"


def person(person_id: str) -> ProfileSnapshot:
    return ProfileSnapshot.model_validate(
        {
            "person_id": person_id,
            "revision": 1,
            "status": "active",
            "display_name": f"{person_id} Person",
            "email": f"{person_id.lower()}@example.com",
            "time_zone": "Europe/Berlin",
        }
    )


# ------------------------------------------------------------------ commands


def publish_office_hours(office_hours_id: str, host_id: str, **changes: Any) -> PublishOfficeHours:
    fields: dict[str, Any] = {
        "office_hours_id": office_hours_id,
        "host_id": host_id,
        "title": "Ask me about Kafka",
        "topics": ["kafka"],
        "weekday": Weekday.THURSDAY,
        "start": time(16, 0),
        "duration_minutes": 30,
        "time_zone": "Europe/Berlin",
        "seats": 1,
        "weeks": 4,
        "join_url": "https://meet.example.com/kafka",
    }
    data = PublishOfficeHoursData.model_validate(fields | changes)
    return PublishOfficeHours.create(data, source=SOURCE)


def office_hours_soon(office_hours_id: str, host_id: str, in_seconds: float) -> PublishOfficeHours:
    """A series whose first slot starts a few seconds from now (UTC, today's weekday)."""
    first = datetime.now(UTC) + timedelta(seconds=in_seconds)
    weekday = list(Weekday)[first.weekday()]
    start = first.time().replace(microsecond=0)
    return publish_office_hours(
        office_hours_id, host_id, weekday=weekday, start=start, time_zone="UTC", seats=5
    )


def book(office_hours_id: str, booking_id: str, person_id: str, slot_start: datetime) -> BookOfficeHours:
    data = BookOfficeHoursData(
        booking_id=booking_id, office_hours_id=office_hours_id, slot_start=slot_start, person_id=person_id
    )
    return BookOfficeHours.create(data, source=SOURCE)


def cancel_booking(office_hours_id: str, booking_id: str, person_id: str) -> CancelOfficeHoursBooking:
    data = CancelOfficeHoursBookingData(
        booking_id=booking_id, office_hours_id=office_hours_id, person_id=person_id
    )
    return CancelOfficeHoursBooking.create(data, source=SOURCE)


def announce(group_session_id: str, host_id: str, **changes: Any) -> AnnounceGroupSession:
    fields: dict[str, Any] = {
        "group_session_id": group_session_id,
        "host_id": host_id,
        "format": "workshop",
        "title": "Property-based testing in practice",
        "description": "Bring a function you do not trust.",
        "topics": ["testing"],
        "starts_at": (datetime.now(UTC) + timedelta(days=7)).replace(minute=0, second=0, microsecond=0),
        "duration_minutes": 90,
        "time_zone": "Europe/Berlin",
        "capacity": 2,
        "join_url": "https://meet.example.com/pbt",
    }
    data = AnnounceGroupSessionData.model_validate(fields | changes)
    return AnnounceGroupSession.create(data, source=SOURCE)


def register(group_session_id: str, person_id: str) -> RegisterForGroupSession:
    data = GroupRegistrationData(group_session_id=group_session_id, person_id=person_id)
    return RegisterForGroupSession.create(data, source=SOURCE)


def cancel_registration(group_session_id: str, person_id: str) -> CancelGroupRegistration:
    data = GroupRegistrationData(group_session_id=group_session_id, person_id=person_id)
    return CancelGroupRegistration.create(data, source=SOURCE)


# ------------------------------------------------------------------ the running service


class Scheduling:
    """The scheduling service running on the test servers, seen from outside."""

    def __init__(self, infra: Infrastructure, settings: SchedulingSettings, runtime: Runtime) -> None:
        self.infra = infra
        self.settings = settings
        self.db: AsyncDatabase[Document] = runtime.db

    async def _produce(self, logical_topic: str, message: Envelope) -> None:
        await produce(
            self.infra.kafka_bootstrap,
            self.settings.topic(logical_topic),
            message.to_json_bytes(),
            key=message.subject.encode(),
            headers=message.headers(),
        )

    async def people(self, *person_ids: str) -> None:
        """Send their profiles and wait until scheduling knows everyone (invites need addresses)."""
        for person_id in person_ids:
            await self._produce(
                PROFILE_EVENTS.name, ProfileCreated.create(person(person_id), source="profile")
            )

        async def known() -> bool:
            found = await self.db["people"].count_documents({"_id": {"$in": list(person_ids)}})
            return found == len(person_ids)

        await eventually(known, what="scheduling knowing everyone")

    async def send(self, *commands: Envelope) -> None:
        """Send commands in order, as another system would; the same one twice is a redelivery."""
        for command in commands:
            await self._produce(SCHEDULING_COMMANDS.name, command)

    async def events(self, count: int, subject: str | None = None) -> list[dict[str, Any]]:
        """At least ``count`` events (about ``subject`` when given), in the order they were sent.

        Events about one subject share a key, so their partition holds them in order."""

        def about(records: list[Record]) -> list[dict[str, Any]]:
            decoded = [json.loads(r.value or b"") for r in sorted(records, key=lambda r: r.offset)]
            return [e for e in decoded if subject is None or e["subject"] == subject]

        records = await wait_for_records(
            self.infra.kafka_bootstrap,
            self.settings.topic(SCHEDULING_EVENTS.name),
            lambda found: len(about(found)) >= count,
        )
        return about(records)

    async def all_events(self, subject: str) -> list[dict[str, Any]]:
        records = await read_all(self.infra.kafka_bootstrap, self.settings.topic(SCHEDULING_EVENTS.name))
        decoded = [json.loads(r.value or b"") for r in sorted(records, key=lambda r: r.offset)]
        return [e for e in decoded if e["subject"] == subject]

    async def handled_every_command(self) -> None:
        """Wait until scheduling has handled (and committed) every command sent so far."""
        topic = self.settings.topic(SCHEDULING_COMMANDS.name)

        async def caught_up() -> bool:
            return await group_caught_up(self.infra.kafka_bootstrap, self.settings.consumer_group, topic)

        await eventually(caught_up, what="scheduling handling every command")

    async def dead_letters(self, count: int) -> list[Record]:
        return await wait_for_records(
            self.infra.kafka_bootstrap,
            f"{self.settings.topic(SCHEDULING_COMMANDS.name)}.dlq",
            lambda found: len(found) >= count,
        )

    async def document(self, collection: str, doc_id: str) -> Document:
        doc = await self.db[collection].find_one({"_id": doc_id})
        assert doc is not None, f"no {collection} document {doc_id}"
        return doc

    async def read(self, path: str) -> Any:
        """GET a read-API route as the app mounts it (the app's token check is not under test here)."""
        app = FastAPI()
        app.include_router(office_hours_routes(self.db))
        app.include_router(group_routes(self.db))
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test"
        ) as client:
            response = await client.get(path)
        response.raise_for_status()
        return response.json()


@asynccontextmanager
async def scheduling_service(infra: Infrastructure, namespace: str) -> AsyncIterator[Scheduling]:
    """The real service (its app definition) in a namespace of its own."""
    settings = settings_for(SchedulingSettings, infra, namespace)
    async with running(definition, settings) as runtime:
        yield Scheduling(infra, settings, runtime)


def of_type(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == f"scheduling.{kind}"]
