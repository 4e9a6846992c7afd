"""Seat rules for office hours and group sessions: which slots exist, who may book, who waits.

State is plain frozen dataclasses passed in and returned; the service persists them. These
functions decide on one state at a time; the service keeps that true across replicas by
handling each series or session on one consumer (commands are keyed by its id), not by
conditional updates, which some Mongo-wire servers do not make atomic across connections.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from contracts.scheduling import Cadence, PublishOfficeHoursData, RefusalReason
from services.scheduling.slots import WEEKDAYS, recurrence, utc

# ------------------------------------------------------------------ office hours


@dataclass(frozen=True)
class OfficeHoursSeries:
    office_hours_id: str
    host_id: str
    slot_starts: tuple[datetime, ...]
    duration_minutes: int
    seats: int


@dataclass(frozen=True)
class Booking:
    booking_id: str
    person_id: str
    slot_start: datetime


@dataclass(frozen=True)
class Booked:
    """The booking stands; ``replayed`` when it was already recorded (publish nothing new)."""

    booking: Booking
    seats_left: int
    replayed: bool = False


@dataclass(frozen=True)
class Refused:
    reason: RefusalReason
    message: str


@dataclass(frozen=True)
class BookingCancelled:
    booking: Booking


def office_hour_slots(series: PublishOfficeHoursData, *, published_at: datetime) -> tuple[datetime, ...]:
    """The series' slot starts (UTC): the first on its weekday after ``published_at``, then weekly.

    Each slot keeps the host's local start time across daylight-saving changes.
    """
    zone = ZoneInfo(series.time_zone)
    published = utc(published_at)
    local_now = published.astimezone(zone)
    wall = series.start.replace(tzinfo=None)
    day = local_now.date() + timedelta(days=(WEEKDAYS.index(series.weekday) - local_now.weekday()) % 7)
    first = datetime.combine(day, wall, tzinfo=zone)
    # A slot later today counts; one that has already begun (or begins this instant) does not.
    if first <= published:
        first = datetime.combine(day + timedelta(weeks=1), wall, tzinfo=zone)
    return tuple(recurrence(first, series.time_zone, Cadence.WEEKLY, series.weeks))


def series_from(command: PublishOfficeHoursData, *, published_at: datetime) -> OfficeHoursSeries:
    """The state the service keeps for a published series."""
    return OfficeHoursSeries(
        office_hours_id=command.office_hours_id,
        host_id=command.host_id,
        slot_starts=office_hour_slots(command, published_at=published_at),
        duration_minutes=command.duration_minutes,
        seats=command.seats,
    )


def decide_booking(
    series: OfficeHoursSeries, bookings: Sequence[Booking], request: Booking, *, now: datetime
) -> Booked | Refused:
    """Accept or refuse a booking, given the series' current (not cancelled) bookings."""
    slot = utc(request.slot_start)
    same_id = next((b for b in bookings if b.booking_id == request.booking_id), None)
    if same_id is not None:
        return _replay(series, bookings, same_id, request)
    in_slot = [b for b in bookings if utc(b.slot_start) == slot]
    refusal = _booking_refusal(series, in_slot, request.person_id, slot, utc(now))
    if refusal is not None:
        return refusal
    booking = replace(request, slot_start=slot)
    return Booked(booking=booking, seats_left=series.seats - len(in_slot) - 1)


def _booking_refusal(
    series: OfficeHoursSeries, in_slot: Sequence[Booking], person_id: str, slot: datetime, now: datetime
) -> Refused | None:
    if person_id == series.host_id:
        # No dedicated reason exists; the host is indeed not a participant of their own hours.
        return Refused(
            RefusalReason.NOT_A_PARTICIPANT, "You host these office hours, so you cannot book them."
        )
    if slot not in {utc(s) for s in series.slot_starts}:
        return Refused(RefusalReason.NO_SUCH_SLOT, "That time is not one of the published office-hour slots.")
    if slot <= now:
        return Refused(
            RefusalReason.IN_THE_PAST, "That office-hour slot has already started; pick a later one."
        )
    if any(b.person_id == person_id for b in in_slot):
        return Refused(RefusalReason.ALREADY_BOOKED, "You already have a booking in that slot.")
    if len(in_slot) >= series.seats:
        return Refused(RefusalReason.FULL, "That slot is full; pick another slot of the same office hours.")
    return None


def _replay(
    series: OfficeHoursSeries, bookings: Sequence[Booking], recorded: Booking, request: Booking
) -> Booked | Refused:
    if recorded.person_id != request.person_id or utc(recorded.slot_start) != utc(request.slot_start):
        return Refused(RefusalReason.ALREADY_BOOKED, "This booking id is already used by another booking.")
    taken = sum(1 for b in bookings if utc(b.slot_start) == utc(recorded.slot_start))
    return Booked(booking=recorded, seats_left=max(series.seats - taken, 0), replayed=True)


def decide_cancellation(
    bookings: Sequence[Booking], *, booking_id: str, person_id: str, now: datetime
) -> BookingCancelled | Refused | None:
    """Cancel one's own booking before its slot starts; None when there is nothing (left) to cancel."""
    booking = next((b for b in bookings if b.booking_id == booking_id), None)
    if booking is None:
        return None
    if booking.person_id != person_id:
        return Refused(RefusalReason.NOT_A_PARTICIPANT, "Only the person who booked can cancel this booking.")
    if utc(booking.slot_start) <= utc(now):
        return Refused(RefusalReason.IN_THE_PAST, "That office-hour slot has already started.")
    return BookingCancelled(booking=booking)


# ------------------------------------------------------------------ group sessions


@dataclass(frozen=True)
class GroupRoster:
    """Who has a seat, and who waits in order, for one group session."""

    group_session_id: str
    host_id: str
    starts_at: datetime
    capacity: int
    seated: tuple[str, ...] = ()
    waitlist: tuple[str, ...] = ()

    @property
    def seats_left(self) -> int:
        return max(self.capacity - len(self.seated), 0)


@dataclass(frozen=True)
class Seated:
    roster: GroupRoster
    person_id: str
    seats_left: int
    promoted_from_waitlist: bool = False
    replayed: bool = False


@dataclass(frozen=True)
class OnWaitlist:
    roster: GroupRoster
    person_id: str
    position: int
    replayed: bool = False


@dataclass(frozen=True)
class Withdrawn:
    """Someone left; ``promoted`` is set when their seat went to the first person waiting."""

    roster: GroupRoster
    person_id: str
    promoted: Seated | None = None


def register(roster: GroupRoster, person_id: str, *, now: datetime) -> Seated | OnWaitlist | Refused:
    """A seat while there is one, else the next place on the waitlist. Registering twice is a replay."""
    if person_id in roster.seated:
        return Seated(roster, person_id, roster.seats_left, replayed=True)
    if person_id in roster.waitlist:
        return OnWaitlist(roster, person_id, roster.waitlist.index(person_id) + 1, replayed=True)
    if person_id == roster.host_id:
        return Refused(
            RefusalReason.NOT_A_PARTICIPANT, "You host this session, so you cannot register for it."
        )
    if utc(roster.starts_at) <= utc(now):
        return Refused(RefusalReason.IN_THE_PAST, "This session has already started.")
    if roster.seats_left > 0:
        seated = replace(roster, seated=(*roster.seated, person_id))
        return Seated(seated, person_id, seated.seats_left)
    waiting = replace(roster, waitlist=(*roster.waitlist, person_id))
    return OnWaitlist(waiting, person_id, len(waiting.waitlist))


def cancel_registration(roster: GroupRoster, person_id: str) -> Withdrawn | None:
    """Leave a session or its waitlist; a freed seat goes to the first person waiting.

    None when the person was not registered (a redelivered cancel changes nothing).
    """
    if person_id in roster.waitlist:
        return Withdrawn(
            replace(roster, waitlist=tuple(p for p in roster.waitlist if p != person_id)), person_id
        )
    if person_id not in roster.seated:
        return None
    remaining = replace(roster, seated=tuple(p for p in roster.seated if p != person_id))
    if not remaining.waitlist or remaining.seats_left == 0:
        return Withdrawn(remaining, person_id)
    first, *rest = remaining.waitlist
    promoted = replace(remaining, seated=(*remaining.seated, first), waitlist=tuple(rest))
    return Withdrawn(
        promoted, person_id, Seated(promoted, first, promoted.seats_left, promoted_from_waitlist=True)
    )
