"""Recognition test helpers: the events other services publish, as they publish them, and the
recognition service's ledger, standings and events read back from the real servers."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from contracts.catalogue import (
    MATCHING_EVENTS,
    PROFILE_EVENTS,
    RECOGNITION_COMMANDS,
    RECOGNITION_EVENTS,
    SCHEDULING_EVENTS,
    topic_of,
)
from contracts.common import MentorshipKind
from contracts.envelope import Envelope, deterministic_id
from contracts.matching import MatchConfirmed, MatchParticipants
from contracts.profile import ProfileCreated, ProfileSnapshot
from contracts.recognition import GiveKudos, GiveKudosData
from contracts.scheduling import (
    CalendarInvite,
    GroupFormat,
    GroupSessionAnnounced,
    GroupSessionAnnouncedData,
    OfficeHoursBooked,
    OfficeHoursBookedData,
    SeatReserved,
    SeatReservedData,
    SessionCancelled,
    SessionCancelledData,
    SessionCompleted,
    SessionCompletedData,
    SessionKind,
)
from services.recognition.settings import RecognitionSettings
from services.recognition.standings import collection_of
from services.runtime.mongo import Document
from tests.support.infrastructure import Infrastructure
from tests.support.kafka import group_caught_up, produce, read_all
from tests.support.waiting import eventually

INVITE = CalendarInvite(uid="uid@test", sequence=0, ics="BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")


def person(person_id: str, team: str | None = None, manager_id: str | None = None) -> ProfileCreated:
    snapshot = ProfileSnapshot.model_validate(
        {
            "person_id": person_id,
            "revision": 1,
            "status": "active",
            "display_name": f"{person_id} Person",
            "email": f"{person_id.lower()}@example.com",
            "team": team,
            "manager_id": manager_id,
        }
    )
    return ProfileCreated.create(snapshot, source="profile")


def completed(
    session_id: str,
    host: str,
    participants: list[str],
    held_at: datetime,
    *,
    attended: list[str] | None = None,
    ratings: dict[str, int] | None = None,
    revision: int = 1,
    kind: SessionKind = SessionKind.MENTORING,
    match_id: str | None = None,
    programme_id: str = "onboarding",
) -> SessionCompleted:
    """A completion as scheduling sends it: its id follows from the session and revision."""
    data = SessionCompletedData(
        session_id=session_id,
        kind=kind,
        match_id=match_id or f"match-{host}",
        programme_id=programme_id,
        host_ids=[host],
        participant_ids=participants,
        attended_ids=participants if attended is None else attended,
        held_at=held_at,
        ratings=[{"person_id": p, "rating": r} for p, r in sorted((ratings or {}).items())],
        outcome_revision=revision,
    )
    return SessionCompleted.create(
        data, source="scheduling", event_id=deterministic_id(session_id, "completed", str(revision))
    )


def cancelled_after_completion(
    session_id: str, host: str, participants: list[str], at: datetime
) -> SessionCancelled:
    data = SessionCancelledData(
        session_id=session_id,
        kind=SessionKind.MENTORING,
        host_ids=[host],
        participant_ids=participants,
        starts_at=at,
        invite=INVITE,
        after_completion=True,
    )
    return SessionCancelled.create(
        data, source="scheduling", event_id=deterministic_id(session_id, "cancelled")
    )


def reverse_match(match_id: str, mentor: str, mentee: str) -> MatchConfirmed:
    data = MatchParticipants(
        match_id=match_id,
        kind=MentorshipKind.REVERSE,
        programme_id="reverse-mentoring",
        mentor_id=mentor,
        mentee_id=mentee,
    )
    return MatchConfirmed.create(data, source="matching", event_id=deterministic_id(match_id, "confirmed"))


def office_hours_booked(
    office_hours_id: str, host: str, booker: str, slot_start: datetime
) -> OfficeHoursBooked:
    data = OfficeHoursBookedData(
        booking_id=f"b-{office_hours_id}-{booker}",
        office_hours_id=office_hours_id,
        host_id=host,
        person_id=booker,
        slot_start=slot_start,
        seats_left=3,
        invite=INVITE,
    )
    return OfficeHoursBooked.create(
        data, source="scheduling", event_id=deterministic_id(data.booking_id, "b")
    )


def talk(group_session_id: str, host: str, starts_at: datetime) -> GroupSessionAnnounced:
    data = GroupSessionAnnouncedData(
        group_session_id=group_session_id,
        host_id=host,
        format=GroupFormat.TECH_TALK,
        title="Kafka in one hour",
        starts_at=starts_at,
        duration_minutes=60,
        time_zone="Europe/Berlin",
        capacity=30,
        seats_left=30,
    )
    return GroupSessionAnnounced.create(
        data, source="scheduling", event_id=deterministic_id(group_session_id, "announced")
    )


def seat(group_session_id: str, person_id: str) -> SeatReserved:
    data = SeatReservedData(
        group_session_id=group_session_id, person_id=person_id, seats_left=29, invite=INVITE
    )
    return SeatReserved.create(
        data, source="scheduling", event_id=deterministic_id(group_session_id, "seat", person_id)
    )


def kudos(kudos_id: str, from_id: str, to_id: str, at: datetime) -> GiveKudos:
    data = GiveKudosData(kudos_id=kudos_id, from_id=from_id, to_id=to_id, message="Thank you for the help!")
    return GiveKudos.create(data, source="web", event_id=deterministic_id(kudos_id, "give"), occurred_at=at)


class Recognition:
    """The recognition service's inputs and outputs on the test servers."""

    def __init__(
        self, infra: Infrastructure, settings: RecognitionSettings, db: AsyncDatabase[Document]
    ) -> None:
        self.infra = infra
        self.settings = settings
        self.db = db

    async def send(self, *messages: Envelope) -> None:
        """Publish in order, each on its registry topic keyed by its subject, as its owner would."""
        for message in messages:
            await produce(
                self.infra.kafka_bootstrap,
                self.settings.topic(topic_of(type(message)).name),
                message.to_json_bytes(),
                key=message.subject.encode(),
                headers=message.headers(),
            )

    async def settled(self, timeout: float = 60.0) -> None:
        """Everything sent so far handled, and every ledger entry it caused folded in."""
        group = self.settings.consumer_group
        inputs = (SCHEDULING_EVENTS, MATCHING_EVENTS, PROFILE_EVENTS, RECOGNITION_COMMANDS)

        async def inputs_done() -> bool:
            for spec in inputs:
                if not await group_caught_up(
                    self.infra.kafka_bootstrap, group, self.settings.topic(spec.name)
                ):
                    return False
            return True

        async def fold_done() -> bool:
            topic = self.settings.topic(RECOGNITION_EVENTS.name)
            if not await group_caught_up(self.infra.kafka_bootstrap, group, topic):
                return False
            return await self.db["ledger"].count_documents({"applied": False}) == 0

        await eventually(inputs_done, timeout=timeout, what="recognition handling every input")
        await eventually(fold_done, timeout=timeout, what="recognition folding every ledger entry")

    async def people_known(self, count: int) -> None:
        async def known() -> bool:
            return await self.db["people"].count_documents({}) >= count

        await eventually(known, what="recognition knowing everyone's team")

    async def events(self) -> list[dict[str, Any]]:
        records = await read_all(self.infra.kafka_bootstrap, self.settings.topic(RECOGNITION_EVENTS.name))
        return [json.loads(r.value or b"") for r in records]

    async def ledger(self) -> list[Document]:
        return [doc async for doc in self.db["ledger"].find({})]

    async def points(self) -> dict[str, int]:
        """Net points per person, summed over the ledger itself."""
        totals: dict[str, int] = {}
        for entry in await self.ledger():
            totals[entry["person_id"]] = totals.get(entry["person_id"], 0) + entry["points"]
        return totals

    async def standing_points(self, period: str = "all") -> dict[str, int]:
        """Net points per person as the standings of a period hold them."""
        return {doc["_id"]: doc["points"] async for doc in self.db[collection_of(period)].find({})}

    async def badges(self) -> set[tuple[str, str]]:
        return {(d["person_id"], d["badge"]) async for d in self.db["badges"].find({})}


def at(day: datetime, hours: int) -> datetime:
    return day + timedelta(hours=hours)
