"""Group sessions (workshops, study groups, tech talks, lunch-and-learns): a capacity, seats
taken in order of registration, and a waitlist that moves up when someone cancels.

The rules are ``seats``; this module reads and writes the session's one document around them (see
``aggregates`` for why seat counts hold across replicas). Collection ``group_sessions``::

    _id               group_session_id
    host_id, format, title, description, topics, duration_minutes, time_zone, capacity,
    join_url                                                  as announced
    starts_at         datetime, UTC
    announced_at      datetime, UTC
    fingerprint       digest of the announcing command        a re-send is told from a change
    correlation_id    the announcing command's chain
    seated            [person_id]                             in order of seating
    waitlist          [person_id]                             first in line first
    waiting_chains    [{person_id, correlation_id}]           each waiting person's registration
                                                              chain, continued by their promotion
    revision, _processed, _outbox                             see aggregates

The contracts have no event for a cancelled registration nor for a refused one, so those are
logged only; a promotion's ``SeatReserved`` names the cancellation as its cause.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from contracts.envelope import Envelope, deterministic_id
from contracts.scheduling import (
    AnnounceGroupSession,
    CalendarInvite,
    CancelGroupRegistration,
    GroupSessionAnnounced,
    GroupSessionAnnouncedData,
    RegisterForGroupSession,
    SeatReserved,
    SeatReservedData,
    Waitlisted,
    WaitlistedData,
)
from services.runtime.errors import UnprocessableMessage
from services.runtime.idempotency import PROCESSED_FIELD
from services.runtime.logging import get_logger
from services.runtime.mongo import Document, aware
from services.runtime.outbox import OUTBOX_FIELD
from services.runtime.publishing import MessagePublisher
from services.scheduling import aggregates
from services.scheduling.aggregates import Change
from services.scheduling.invites import Organiser, invite, stable_uid
from services.scheduling.people import People
from services.scheduling.seats import (
    GroupRoster,
    OnWaitlist,
    Refused,
    Seated,
    cancel_registration,
    register,
)
from services.scheduling.settings import SchedulingSettings

SERVICE = "scheduling"
COLLECTION = "group_sessions"
log = get_logger(__name__)


async def ensure_group_indexes(db: AsyncDatabase[Document]) -> None:
    # The read API lists sessions still ahead, soonest first.
    await db[COLLECTION].create_index([("starts_at", 1)])


class GroupSessions:
    """Announcing a session, and registering for it and cancelling a registration."""

    def __init__(
        self,
        db: AsyncDatabase[Document],
        publisher: MessagePublisher,
        people: People,
        settings: SchedulingSettings,
    ) -> None:
        self.collection: AsyncCollection[Document] = db[COLLECTION]
        self.publisher = publisher
        self.people = people
        self.settings = settings

    async def announce(self, command: AnnounceGroupSession) -> None:
        """Open a session for registration with all its seats free."""
        data = command.payload
        now = datetime.now(UTC)
        if data.starts_at <= now:
            raise UnprocessableMessage(f"group session {data.group_session_id} would start in the past")
        announced = GroupSessionAnnounced.create(
            GroupSessionAnnouncedData(**data.model_dump(), seats_left=data.capacity),
            source=SERVICE,
            caused_by=command,
            event_id=deterministic_id(data.group_session_id, GroupSessionAnnounced.message_type()),
        )
        doc: Document = {
            **data.model_dump(mode="json", exclude={"group_session_id", "starts_at"}),
            "_id": data.group_session_id,
            "starts_at": data.starts_at.astimezone(UTC),
            "announced_at": now,
            "fingerprint": aggregates.fingerprint(data),
            "correlation_id": command.correlation_id,
            "seated": [],
            "waitlist": [],
            "waiting_chains": [],
        }
        existing = await aggregates.create(self.collection, doc, command, [announced], self.publisher)
        if existing is None:
            log.info("group session announced", group_session_id=data.group_session_id)
        elif existing.get("fingerprint") != doc["fingerprint"]:
            raise UnprocessableMessage(
                f"group session {data.group_session_id} is already announced with other details; "
                "announce the changed session under a new group_session_id"
            )
        else:
            log.info("group session already announced as sent; nothing to do", group_session_id=doc["_id"])

    async def register(self, command: RegisterForGroupSession) -> None:
        """A seat while one is free (``SeatReserved``), else the next place in line (``Waitlisted``)."""
        await aggregates.apply(
            self.collection,
            command.payload.group_session_id,
            command,
            lambda doc: self._decide_registration(doc, command),
            self.publisher,
            missing=f"there is no group session {command.payload.group_session_id}",
        )

    async def cancel_registration(self, command: CancelGroupRegistration) -> None:
        """Leave the session or its waitlist; a freed seat goes to the first person waiting."""
        await aggregates.apply(
            self.collection,
            command.payload.group_session_id,
            command,
            lambda doc: self._decide_cancellation(doc, command),
            self.publisher,
            missing=f"there is no group session {command.payload.group_session_id}",
        )

    async def _decide_registration(self, doc: Document, command: RegisterForGroupSession) -> Change:
        person_id = command.payload.person_id
        outcome = register(_roster(doc), person_id, now=datetime.now(UTC))
        details: dict[str, object] = {"group_session_id": doc["_id"]}
        if isinstance(outcome, Refused):
            # No contract event says so; the reason is logged for operators and support.
            return Change(
                note="group registration refused", details={**details, "reason": outcome.reason.value}
            )
        if outcome.replayed:
            return Change(note="already registered; nothing new to send", details=details)
        if isinstance(outcome, Seated):
            reserved = await self._seat_reserved(doc, outcome, command, command.correlation_id)
            return Change(
                fields=_roster_fields(outcome.roster, doc["waiting_chains"]),
                messages=[reserved],
                note="group seat reserved",
                details={**details, "seats_left": outcome.seats_left},
            )
        return await self._waitlisted(doc, outcome, command)

    async def _waitlisted(
        self, doc: Document, outcome: OnWaitlist, command: RegisterForGroupSession
    ) -> Change:
        # Known now, so that a promotion later can always address the invite.
        await self.people.require([outcome.person_id])
        waiting = WaitlistedData(
            group_session_id=doc["_id"], person_id=outcome.person_id, position=outcome.position
        )
        message = Waitlisted.create(
            waiting,
            source=SERVICE,
            caused_by=command,
            event_id=deterministic_id(command.event_id, Waitlisted.message_type(), outcome.person_id),
        )
        chain = {"person_id": outcome.person_id, "correlation_id": command.correlation_id}
        return Change(
            fields=_roster_fields(outcome.roster, [*doc["waiting_chains"], chain]),
            messages=[message],
            note="waitlisted for a group session",
            details={"group_session_id": doc["_id"], "position": outcome.position},
        )

    async def _decide_cancellation(self, doc: Document, command: CancelGroupRegistration) -> Change:
        outcome = cancel_registration(_roster(doc), command.payload.person_id)
        details: dict[str, object] = {"group_session_id": doc["_id"]}
        if outcome is None:
            return Change(note="not registered; nothing to cancel", details=details)
        promoted = outcome.promoted
        chains = [c for c in doc["waiting_chains"] if c["person_id"] in outcome.roster.waitlist]
        if promoted is None:
            # No contract event tells the canceller; this line is the record of it.
            return Change(
                fields=_roster_fields(outcome.roster, chains),
                note="group registration cancelled",
                details={**details, "seats_left": outcome.roster.seats_left},
            )
        chain = next(
            (c["correlation_id"] for c in doc["waiting_chains"] if c["person_id"] == promoted.person_id),
            command.correlation_id,
        )
        reserved = await self._seat_reserved(doc, promoted, command, chain)
        return Change(
            fields=_roster_fields(outcome.roster, chains),
            messages=[reserved],
            note="group registration cancelled; the first on the waitlist is seated",
            details={**details, "seats_left": promoted.seats_left},
        )

    async def _seat_reserved(
        self, doc: Document, seated: Seated, cause: Envelope, correlation_id: str
    ) -> SeatReserved:
        """The seat and its invite; a promotion continues the person's registration chain while
        naming the cancellation that freed the seat as its cause."""
        return SeatReserved.create(
            SeatReservedData(
                group_session_id=doc["_id"],
                person_id=seated.person_id,
                promoted_from_waitlist=seated.promoted_from_waitlist,
                seats_left=seated.seats_left,
                invite=await self._invite(doc, seated.person_id, cause),
            ),
            source=SERVICE,
            caused_by=cause,
            event_id=deterministic_id(cause.event_id, SeatReserved.message_type(), seated.person_id),
            correlation_id=correlation_id,
        )

    async def _invite(self, doc: Document, person_id: str, cause: Envelope) -> CalendarInvite:
        """The attendee's invite, sent by the host. Everyone's copy carries the session's UID, so
        a later change to the session updates the one event in each calendar."""
        people = await self.people.require([person_id, doc["host_id"]])
        host, person = people[doc["host_id"]], people[person_id]
        start = aware(doc["starts_at"])
        uid = stable_uid(doc["_id"], self.settings.invite_domain)
        text = invite(
            uid,
            0,
            start,
            start + timedelta(minutes=doc["duration_minutes"]),
            doc["title"],
            _description(doc),
            organiser=Organiser(email=host.email, name=host.name),
            attendees=[person.email],
            stamp=cause.occurred_at,
        )
        return CalendarInvite(uid=uid, sequence=0, ics=text)


def _roster(doc: Document) -> GroupRoster:
    return GroupRoster(
        group_session_id=doc["_id"],
        host_id=doc["host_id"],
        starts_at=aware(doc["starts_at"]),
        capacity=doc["capacity"],
        seated=tuple(doc["seated"]),
        waitlist=tuple(doc["waitlist"]),
    )


def _roster_fields(roster: GroupRoster, waiting_chains: list[Document]) -> Document:
    return {
        "seated": list(roster.seated),
        "waitlist": list(roster.waitlist),
        "waiting_chains": waiting_chains,
    }


def _description(doc: Document) -> str | None:
    join = f"Join: {doc['join_url']}" if doc.get("join_url") else None
    return "\n\n".join(part for part in (doc.get("description"), join) if part) or None


# ------------------------------------------------------------------ read API


class GroupSessionView(BaseModel):
    """An upcoming group session, how many seats are free and how many people wait."""

    group_session_id: str
    host_id: str
    format: str
    title: str
    description: str | None
    topics: list[str]
    starts_at: datetime
    duration_minutes: int
    time_zone: str
    capacity: int
    seats_left: int
    waitlist_length: int


def group_routes(db: AsyncDatabase[Document]) -> APIRouter:
    """``GET /group-sessions``; the app adds the authentication dependency."""
    collection: AsyncCollection[Document] = db[COLLECTION]
    api = APIRouter(tags=["group sessions"])

    @api.get("/group-sessions")
    async def upcoming(limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> list[GroupSessionView]:
        """Sessions that have not started yet, soonest first, full ones included (they take a waitlist)."""
        now = datetime.now(UTC)
        projection = {OUTBOX_FIELD: 0, PROCESSED_FIELD: 0, "waiting_chains": 0}
        cursor = collection.find({"starts_at": {"$gt": now}}, projection).sort([("starts_at", 1), ("_id", 1)])
        return [_view(doc) async for doc in cursor.limit(limit)]

    return api


def _view(doc: Document) -> GroupSessionView:
    roster = _roster(doc)
    return GroupSessionView(
        group_session_id=doc["_id"],
        host_id=doc["host_id"],
        format=doc["format"],
        title=doc["title"],
        description=doc.get("description"),
        topics=doc["topics"],
        starts_at=roster.starts_at,
        duration_minutes=doc["duration_minutes"],
        time_zone=doc["time_zone"],
        capacity=roster.capacity,
        seats_left=roster.seats_left,
        waitlist_length=len(roster.waitlist),
    )
