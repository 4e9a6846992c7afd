"""Office hours: a host publishes weekly slots with a few seats each; anyone books a seat or is
told why not, and a cancellation frees the seat.

The rules are ``seats``; this module reads and writes the series' one document around them (see
``aggregates`` for why seat counts hold across replicas). Collection ``office_hours``::

    _id               office_hours_id
    host_id, title, topics, weekday, start ("HH:MM:SS", host's local time), time_zone,
    duration_minutes, seats, weeks, join_url                  as published
    slot_starts       [datetime, UTC]                         from seats.office_hour_slots
    published_at      datetime, UTC
    fingerprint       digest of the publishing command        a re-send is told from a change
    correlation_id    the publishing command's chain
    bookings          [{booking_id, person_id, slot_start}]   standing bookings
    cancelled         [{booking_id, person_id, slot_start}]   their ids are not booked again
    revision, _processed, _outbox                             see aggregates
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
    BookingRefused,
    BookingRefusedData,
    BookOfficeHours,
    CalendarInvite,
    CancelOfficeHoursBooking,
    OfficeHoursBooked,
    OfficeHoursBookedData,
    OfficeHoursBookingCancelled,
    OfficeHoursBookingCancelledData,
    OfficeHoursPublished,
    OfficeHoursPublishedData,
    PublishOfficeHours,
    RefusalReason,
)
from services.runtime.errors import UnprocessableMessage
from services.runtime.idempotency import PROCESSED_FIELD
from services.runtime.logging import get_logger
from services.runtime.mongo import Document, aware
from services.runtime.outbox import OUTBOX_FIELD
from services.runtime.publishing import MessagePublisher
from services.scheduling import aggregates
from services.scheduling.aggregates import Change
from services.scheduling.invites import Method, Organiser, Status, invite, stable_uid
from services.scheduling.people import People
from services.scheduling.seats import (
    Booked,
    Booking,
    OfficeHoursSeries,
    Refused,
    decide_booking,
    decide_cancellation,
    office_hour_slots,
)
from services.scheduling.settings import SchedulingSettings

SERVICE = "scheduling"
COLLECTION = "office_hours"
REUSED_BOOKING_ID = "That booking was cancelled; to come after all, make a new booking."
log = get_logger(__name__)


async def ensure_office_hours_indexes(db: AsyncDatabase[Document]) -> None:
    # The read API asks for series with a slot still ahead (a multikey index over the slots).
    await db[COLLECTION].create_index([("slot_starts", 1)])


class OfficeHours:
    """Publishing a series, and booking and cancelling its seats."""

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

    async def publish(self, command: PublishOfficeHours) -> None:
        """Open the series' weekly slots, from the first one after now."""
        data = command.payload
        now = datetime.now(UTC)
        slots = list(office_hour_slots(data, published_at=now))
        published = OfficeHoursPublished.create(
            OfficeHoursPublishedData(
                office_hours_id=data.office_hours_id,
                host_id=data.host_id,
                title=data.title,
                topics=data.topics,
                slot_starts=slots,
                duration_minutes=data.duration_minutes,
                seats=data.seats,
                time_zone=data.time_zone,
            ),
            source=SERVICE,
            caused_by=command,
            event_id=deterministic_id(data.office_hours_id, OfficeHoursPublished.message_type()),
        )
        doc: Document = {
            **data.model_dump(mode="json", exclude={"office_hours_id"}),
            "_id": data.office_hours_id,
            "slot_starts": slots,
            "published_at": now,
            "fingerprint": aggregates.fingerprint(data),
            "correlation_id": command.correlation_id,
            "bookings": [],
            "cancelled": [],
        }
        existing = await aggregates.create(self.collection, doc, command, [published], self.publisher)
        if existing is None:
            log.info("office hours published", office_hours_id=data.office_hours_id, slots=len(slots))
        elif existing.get("fingerprint") != doc["fingerprint"]:
            raise UnprocessableMessage(
                f"office hours {data.office_hours_id} are already published with other details; "
                "publish the changed series under a new office_hours_id"
            )
        else:
            log.info(
                "office hours already published as sent; nothing to do", office_hours_id=data.office_hours_id
            )

    async def book(self, command: BookOfficeHours) -> None:
        """A seat in one slot, or a ``BookingRefused`` saying why not."""
        await aggregates.apply(
            self.collection,
            command.payload.office_hours_id,
            command,
            lambda doc: self._decide_booking(doc, command),
            self.publisher,
            missing=f"there are no office hours {command.payload.office_hours_id}",
        )

    async def cancel(self, command: CancelOfficeHoursBooking) -> None:
        """Cancel one's own booking before its slot starts; the seat is free again at once."""
        await aggregates.apply(
            self.collection,
            command.payload.office_hours_id,
            command,
            lambda doc: self._decide_cancellation(doc, command),
            self.publisher,
            missing=f"there are no office hours {command.payload.office_hours_id}",
        )

    async def _decide_booking(self, doc: Document, command: BookOfficeHours) -> Change:
        data = command.payload
        if any(entry["booking_id"] == data.booking_id for entry in doc["cancelled"]):
            # Its events already exist under this id; a second booking under it would look like
            # a repeat of the first to every consumer.
            return self._refusal(command, Refused(RefusalReason.ALREADY_BOOKED, REUSED_BOOKING_ID))
        request = Booking(booking_id=data.booking_id, person_id=data.person_id, slot_start=data.slot_start)
        outcome = decide_booking(_series(doc), _bookings(doc), request, now=datetime.now(UTC))
        if isinstance(outcome, Refused):
            return self._refusal(command, outcome)
        if outcome.replayed:
            # The same booking sent again under a new message id: it stands, nothing new to say.
            return Change(note="booking already recorded", details={"booking_id": data.booking_id})
        booked = await self._booked(doc, outcome, command)
        return Change(
            fields={"bookings": [*doc["bookings"], _stored(outcome.booking)]},
            messages=[booked],
            note="office hours booked",
            details={"booking_id": data.booking_id, "seats_left": outcome.seats_left},
        )

    async def _booked(self, doc: Document, outcome: Booked, command: BookOfficeHours) -> OfficeHoursBooked:
        booking = outcome.booking
        calendar = await self._invite(doc, booking, command, sequence=0, method=Method.REQUEST)
        return OfficeHoursBooked.create(
            OfficeHoursBookedData(
                booking_id=booking.booking_id,
                office_hours_id=doc["_id"],
                host_id=doc["host_id"],
                person_id=booking.person_id,
                slot_start=booking.slot_start,
                seats_left=outcome.seats_left,
                invite=calendar,
            ),
            source=SERVICE,
            caused_by=command,
            event_id=deterministic_id(booking.booking_id, OfficeHoursBooked.message_type()),
        )

    async def _decide_cancellation(self, doc: Document, command: CancelOfficeHoursBooking) -> Change:
        data = command.payload
        outcome = decide_cancellation(
            _bookings(doc), booking_id=data.booking_id, person_id=data.person_id, now=datetime.now(UTC)
        )
        if outcome is None:
            # Cancelled before, or never booked (a refused booking leaves no trace): either way
            # the seat is not held, which is what the person wants.
            return Change(note="no standing booking to cancel", details={"booking_id": data.booking_id})
        if isinstance(outcome, Refused):
            return self._refusal(command, outcome)
        booking = outcome.booking
        calendar = await self._invite(doc, booking, command, sequence=1, method=Method.CANCEL)
        cancelled = OfficeHoursBookingCancelled.create(
            OfficeHoursBookingCancelledData(
                booking_id=booking.booking_id,
                office_hours_id=doc["_id"],
                person_id=booking.person_id,
                slot_start=booking.slot_start,
                invite=calendar,
            ),
            source=SERVICE,
            caused_by=command,
            event_id=deterministic_id(booking.booking_id, OfficeHoursBookingCancelled.message_type()),
        )
        standing = [entry for entry in doc["bookings"] if entry["booking_id"] != booking.booking_id]
        return Change(
            fields={"bookings": standing, "cancelled": [*doc["cancelled"], _stored(booking)]},
            messages=[cancelled],
            note="office-hours booking cancelled",
            details={"booking_id": booking.booking_id},
        )

    def _refusal(self, command: BookOfficeHours | CancelOfficeHoursBooking, refused: Refused) -> Change:
        data = command.payload
        message = BookingRefused.create(
            BookingRefusedData(
                office_hours_id=data.office_hours_id,
                booking_id=data.booking_id,
                person_id=data.person_id,
                reason=refused.reason,
                message=refused.message,
            ),
            source=SERVICE,
            caused_by=command,
            # One refusal per refused command: a later, different attempt may be refused anew.
            event_id=deterministic_id(command.event_id, BookingRefused.message_type()),
        )
        return Change(
            messages=[message],
            note="office-hours request refused",
            details={"booking_id": data.booking_id, "reason": refused.reason.value},
        )

    async def _invite(
        self, doc: Document, booking: Booking, cause: Envelope, *, sequence: int, method: Method
    ) -> CalendarInvite:
        """The booker's invite, sent by the host; the booking id names it for life."""
        people = await self.people.require([booking.person_id, doc["host_id"]])
        host, person = people[doc["host_id"]], people[booking.person_id]
        start = aware(booking.slot_start)
        uid = stable_uid(booking.booking_id, self.settings.invite_domain)
        text = invite(
            uid,
            sequence,
            start,
            start + timedelta(minutes=doc["duration_minutes"]),
            doc["title"],
            _join_text(doc.get("join_url")),
            organiser=Organiser(email=host.email, name=host.name),
            attendees=[person.email],
            status=Status.CANCELLED if method is Method.CANCEL else Status.CONFIRMED,
            method=method,
            # The cause's time, so the text is the same whenever the event is rebuilt from it.
            stamp=cause.occurred_at,
        )
        return CalendarInvite(uid=uid, sequence=sequence, ics=text)


def _series(doc: Document) -> OfficeHoursSeries:
    return OfficeHoursSeries(
        office_hours_id=doc["_id"],
        host_id=doc["host_id"],
        slot_starts=tuple(aware(start) for start in doc["slot_starts"]),
        duration_minutes=doc["duration_minutes"],
        seats=doc["seats"],
    )


def _bookings(doc: Document) -> tuple[Booking, ...]:
    return tuple(
        Booking(
            booking_id=entry["booking_id"],
            person_id=entry["person_id"],
            slot_start=aware(entry["slot_start"]),
        )
        for entry in doc["bookings"]
    )


def _stored(booking: Booking) -> Document:
    return {
        "booking_id": booking.booking_id,
        "person_id": booking.person_id,
        "slot_start": aware(booking.slot_start),
    }


def _join_text(join_url: str | None) -> str | None:
    return f"Join: {join_url}" if join_url else None


# ------------------------------------------------------------------ read API


class OfficeHourSlot(BaseModel):
    """One upcoming slot with at least one free seat."""

    office_hours_id: str
    host_id: str
    title: str
    topics: list[str]
    slot_start: datetime
    duration_minutes: int
    time_zone: str
    seats: int
    seats_left: int


def office_hours_routes(db: AsyncDatabase[Document]) -> APIRouter:
    """``GET /office-hours``; the app adds the authentication dependency."""
    collection: AsyncCollection[Document] = db[COLLECTION]
    api = APIRouter(tags=["office hours"])

    @api.get("/office-hours")
    async def upcoming(limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> list[OfficeHourSlot]:
        """Upcoming office-hour slots that still have a free seat, soonest first."""
        now = datetime.now(UTC)
        projection = {OUTBOX_FIELD: 0, PROCESSED_FIELD: 0, "cancelled": 0}
        cursor = collection.find({"slot_starts": {"$gt": now}}, projection)
        slots = [slot async for doc in cursor for slot in _open_slots(doc, now)]
        return sorted(slots, key=lambda slot: (slot.slot_start, slot.office_hours_id))[:limit]

    return api


def _open_slots(doc: Document, now: datetime) -> list[OfficeHourSlot]:
    taken: dict[datetime, int] = {}
    for booking in _bookings(doc):
        taken[booking.slot_start] = taken.get(booking.slot_start, 0) + 1
    return [
        OfficeHourSlot(
            office_hours_id=doc["_id"],
            host_id=doc["host_id"],
            title=doc["title"],
            topics=doc["topics"],
            slot_start=start,
            duration_minutes=doc["duration_minutes"],
            time_zone=doc["time_zone"],
            seats=doc["seats"],
            seats_left=doc["seats"] - taken.get(start, 0),
        )
        for start in (aware(s) for s in doc["slot_starts"])
        if start > now and taken.get(start, 0) < doc["seats"]
    ]
