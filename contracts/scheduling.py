"""Scheduling commands and events: sessions, office hours, group sessions, reminders.

Instants are UTC; each participant's local time travels with them so notifications can say
"Tuesday 09:00 your time" without another lookup. Session events carry an iCalendar invite
whose UID stays the same and whose SEQUENCE grows, so calendars update one event.
"""

from __future__ import annotations

from datetime import datetime, time
from enum import StrEnum
from typing import Literal, Self

from pydantic import AwareDatetime, Field, HttpUrl, model_validator

from contracts.common import EntityId, Frozen, LongText, PersonId, ShortText, Tag, TimeZoneName, Weekday
from contracts.envelope import Envelope, Payload


class SessionKind(StrEnum):
    MENTORING = "mentoring"
    CIRCLE = "circle"
    ADVISORY_BOARD = "advisory_board"
    OFFICE_HOURS = "office_hours"
    GROUP = "group"


class GroupFormat(StrEnum):
    WORKSHOP = "workshop"
    STUDY_GROUP = "study_group"
    TECH_TALK = "tech_talk"
    LUNCH_AND_LEARN = "lunch_and_learn"


class Cadence(StrEnum):
    WEEKLY = "weekly"
    FORTNIGHTLY = "fortnightly"
    MONTHLY = "monthly"


class LocalTime(Frozen):
    """When a session happens for one participant, in their own time zone."""

    person_id: PersonId
    time_zone: TimeZoneName
    local_start: str = Field(
        description="ISO 8601 local date-time with offset, e.g. 2026-12-01T09:00:00+01:00."
    )


class CalendarInvite(Frozen):
    uid: ShortText = Field(description="Stable across reschedules and cancellation.")
    sequence: int = Field(ge=0, description="Grows with every change to the same event.")
    ics: str = Field(max_length=100_000, description="The RFC 5545 VCALENDAR text.")


class Rating(Frozen):
    person_id: PersonId
    rating: int = Field(ge=1, le=5)
    comment: LongText | None = None


# ------------------------------------------------------------------ commands


class PublishOfficeHoursData(Payload):
    office_hours_id: EntityId
    host_id: PersonId
    title: ShortText
    topics: list[Tag] = Field(default_factory=list, max_length=20)
    weekday: Weekday
    start: time = Field(description="Local start time in the host's time zone.")
    duration_minutes: int = Field(ge=15, le=240)
    time_zone: TimeZoneName
    seats: int = Field(ge=1, le=200, description="People per slot.")
    weeks: int = Field(default=8, ge=1, le=52, description="How many weekly slots to publish.")
    join_url: HttpUrl | None = None


class BookOfficeHoursData(Payload):
    booking_id: EntityId
    office_hours_id: EntityId
    slot_start: AwareDatetime
    person_id: PersonId
    question: LongText | None = None


class CancelOfficeHoursBookingData(Payload):
    booking_id: EntityId
    office_hours_id: EntityId
    person_id: PersonId


class AnnounceGroupSessionData(Payload):
    group_session_id: EntityId
    host_id: PersonId
    format: GroupFormat
    title: ShortText
    description: LongText | None = None
    topics: list[Tag] = Field(default_factory=list, max_length=20)
    starts_at: AwareDatetime
    duration_minutes: int = Field(ge=15, le=480)
    time_zone: TimeZoneName = Field(description="The host's time zone, for the announcement text.")
    capacity: int = Field(ge=1, le=10_000)
    join_url: HttpUrl | None = None


class GroupRegistrationData(Payload):
    group_session_id: EntityId
    person_id: PersonId


class RescheduleSessionData(Payload):
    session_id: EntityId
    requested_by: PersonId
    new_start: AwareDatetime
    reason: LongText | None = None


class CancelSessionData(Payload):
    session_id: EntityId
    cancelled_by: PersonId
    reason: LongText | None = None


class RecordSessionOutcomeData(Payload):
    session_id: EntityId
    recorded_by: PersonId
    attended: bool
    rating: int | None = Field(default=None, ge=1, le=5)
    comment: LongText | None = None


# ------------------------------------------------------------------ event payloads


class SessionScheduledData(Payload):
    session_id: EntityId
    kind: SessionKind
    match_id: EntityId | None = Field(default=None, description="The match, circle or board it belongs to.")
    programme_id: Tag | None = None
    host_ids: list[PersonId] = Field(min_length=1, description="Mentors, facilitators or speakers.")
    participant_ids: list[PersonId] = Field(description="Mentees and attendees.")
    unavailable_ids: list[PersonId] = Field(
        default_factory=list, description="Members no slot suited (circles and boards)."
    )
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    local_times: list[LocalTime] = Field(default_factory=list)
    cadence: Cadence | None = None
    invite: CalendarInvite

    @model_validator(mode="after")
    def _ends_after_start(self) -> Self:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class SessionRescheduledData(SessionScheduledData):
    previous_start: AwareDatetime
    requested_by: PersonId | None = None


class SessionCancelledData(Payload):
    session_id: EntityId
    kind: SessionKind
    match_id: EntityId | None = None
    host_ids: list[PersonId]
    participant_ids: list[PersonId]
    starts_at: AwareDatetime
    cancelled_by: PersonId | None = Field(default=None, description="None when the platform cancelled it.")
    reason: LongText | None = None
    invite: CalendarInvite
    after_completion: bool = Field(
        default=False, description="True when an already completed session is withdrawn (points reverse)."
    )


class SessionCompletedData(Payload):
    session_id: EntityId
    kind: SessionKind
    match_id: EntityId | None = None
    programme_id: Tag | None = None
    host_ids: list[PersonId] = Field(min_length=1)
    participant_ids: list[PersonId]
    attended_ids: list[PersonId] = Field(description="Participants who were there.")
    held_at: AwareDatetime
    ratings: list[Rating] = Field(default_factory=list)
    outcome_revision: int = Field(
        default=1, ge=1, description="Grows when the outcome is corrected; the newest revision is the truth."
    )
    reverse: bool = Field(default=False, description="A reverse-mentoring session (junior mentors senior).")


class ReminderDueData(Payload):
    reminder_id: EntityId
    session_id: EntityId
    person_id: PersonId
    starts_at: AwareDatetime
    lead_minutes: int = Field(ge=1, description="How long before the start this reminder is.")
    local_start: str


class NoSlotFoundData(Payload):
    match_id: EntityId
    person_ids: list[PersonId] = Field(min_length=1)
    horizon_days: int = Field(ge=1)
    reason: ShortText = Field(description="Why, for example 'no shared availability inside working hours'.")


class OfficeHoursPublishedData(Payload):
    office_hours_id: EntityId
    host_id: PersonId
    title: ShortText
    topics: list[Tag] = Field(default_factory=list)
    slot_starts: list[AwareDatetime] = Field(min_length=1)
    duration_minutes: int
    seats: int
    time_zone: TimeZoneName


class OfficeHoursBookedData(Payload):
    booking_id: EntityId
    office_hours_id: EntityId
    host_id: PersonId
    person_id: PersonId
    slot_start: AwareDatetime
    seats_left: int = Field(ge=0)
    invite: CalendarInvite


class OfficeHoursBookingCancelledData(Payload):
    booking_id: EntityId
    office_hours_id: EntityId
    person_id: PersonId
    slot_start: AwareDatetime
    invite: CalendarInvite


class GroupSessionAnnouncedData(AnnounceGroupSessionData):
    seats_left: int = Field(ge=0)


class SeatReservedData(Payload):
    group_session_id: EntityId
    person_id: PersonId
    promoted_from_waitlist: bool = False
    seats_left: int = Field(ge=0)
    invite: CalendarInvite


class WaitlistedData(Payload):
    group_session_id: EntityId
    person_id: PersonId
    position: int = Field(ge=1)


class MatchInactiveData(Payload):
    match_id: EntityId
    mentor_id: PersonId
    mentee_id: PersonId
    weeks_without_session: int = Field(ge=1)
    last_session_at: datetime | None = None


# ------------------------------------------------------------------ messages


class PublishOfficeHours(Envelope):
    """A mentor opens recurring office-hour slots anyone can book."""

    kind = "command"
    subject_field = "office_hours_id"
    type: Literal["scheduling.publish_office_hours"] = "scheduling.publish_office_hours"
    version: Literal[1] = 1
    payload: PublishOfficeHoursData


class BookOfficeHours(Envelope):
    kind = "command"
    subject_field = "office_hours_id"
    type: Literal["scheduling.book_office_hours"] = "scheduling.book_office_hours"
    version: Literal[1] = 1
    payload: BookOfficeHoursData


class CancelOfficeHoursBooking(Envelope):
    kind = "command"
    subject_field = "office_hours_id"
    type: Literal["scheduling.cancel_office_hours_booking"] = "scheduling.cancel_office_hours_booking"
    version: Literal[1] = 1
    payload: CancelOfficeHoursBookingData


class AnnounceGroupSession(Envelope):
    """A workshop, study group, tech talk or lunch-and-learn with a capacity and a waitlist."""

    kind = "command"
    subject_field = "group_session_id"
    type: Literal["scheduling.announce_group_session"] = "scheduling.announce_group_session"
    version: Literal[1] = 1
    payload: AnnounceGroupSessionData


class RegisterForGroupSession(Envelope):
    kind = "command"
    subject_field = "group_session_id"
    type: Literal["scheduling.register_for_group_session"] = "scheduling.register_for_group_session"
    version: Literal[1] = 1
    payload: GroupRegistrationData


class CancelGroupRegistration(Envelope):
    kind = "command"
    subject_field = "group_session_id"
    type: Literal["scheduling.cancel_group_registration"] = "scheduling.cancel_group_registration"
    version: Literal[1] = 1
    payload: GroupRegistrationData


class RescheduleSession(Envelope):
    kind = "command"
    subject_field = "session_id"
    type: Literal["scheduling.reschedule_session"] = "scheduling.reschedule_session"
    version: Literal[1] = 1
    payload: RescheduleSessionData


class CancelSession(Envelope):
    kind = "command"
    subject_field = "session_id"
    type: Literal["scheduling.cancel_session"] = "scheduling.cancel_session"
    version: Literal[1] = 1
    payload: CancelSessionData


class RecordSessionOutcome(Envelope):
    """Who attended, and the feedback rating and comment."""

    kind = "command"
    subject_field = "session_id"
    type: Literal["scheduling.record_session_outcome"] = "scheduling.record_session_outcome"
    version: Literal[1] = 1
    payload: RecordSessionOutcomeData


class _SessionEvent(Envelope):
    subject_field = "session_id"


class SessionScheduled(_SessionEvent):
    type: Literal["scheduling.session_scheduled"] = "scheduling.session_scheduled"
    version: Literal[1] = 1
    payload: SessionScheduledData


class SessionRescheduled(_SessionEvent):
    type: Literal["scheduling.session_rescheduled"] = "scheduling.session_rescheduled"
    version: Literal[1] = 1
    payload: SessionRescheduledData


class SessionCancelled(_SessionEvent):
    type: Literal["scheduling.session_cancelled"] = "scheduling.session_cancelled"
    version: Literal[1] = 1
    payload: SessionCancelledData


class SessionCompleted(_SessionEvent):
    """A session was held, with attendance and feedback; a later revision corrects it."""

    type: Literal["scheduling.session_completed"] = "scheduling.session_completed"
    version: Literal[1] = 1
    payload: SessionCompletedData


class ReminderDue(_SessionEvent):
    type: Literal["scheduling.reminder_due"] = "scheduling.reminder_due"
    version: Literal[1] = 1
    payload: ReminderDueData


class NoSlotFound(Envelope):
    """No time suits everyone within the horizon; people are asked to widen availability."""

    subject_field = "match_id"
    type: Literal["scheduling.no_slot_found"] = "scheduling.no_slot_found"
    version: Literal[1] = 1
    payload: NoSlotFoundData


class MatchInactive(Envelope):
    """A match has had no session for the configured number of weeks."""

    subject_field = "match_id"
    type: Literal["scheduling.match_inactive"] = "scheduling.match_inactive"
    version: Literal[1] = 1
    payload: MatchInactiveData


class _OfficeHoursEvent(Envelope):
    subject_field = "office_hours_id"


class OfficeHoursPublished(_OfficeHoursEvent):
    type: Literal["scheduling.office_hours_published"] = "scheduling.office_hours_published"
    version: Literal[1] = 1
    payload: OfficeHoursPublishedData


class OfficeHoursBooked(_OfficeHoursEvent):
    type: Literal["scheduling.office_hours_booked"] = "scheduling.office_hours_booked"
    version: Literal[1] = 1
    payload: OfficeHoursBookedData


class OfficeHoursBookingCancelled(_OfficeHoursEvent):
    type: Literal["scheduling.office_hours_booking_cancelled"] = "scheduling.office_hours_booking_cancelled"
    version: Literal[1] = 1
    payload: OfficeHoursBookingCancelledData


class _GroupEvent(Envelope):
    subject_field = "group_session_id"


class GroupSessionAnnounced(_GroupEvent):
    type: Literal["scheduling.group_session_announced"] = "scheduling.group_session_announced"
    version: Literal[1] = 1
    payload: GroupSessionAnnouncedData


class SeatReserved(_GroupEvent):
    type: Literal["scheduling.seat_reserved"] = "scheduling.seat_reserved"
    version: Literal[1] = 1
    payload: SeatReservedData


class Waitlisted(_GroupEvent):
    type: Literal["scheduling.waitlisted"] = "scheduling.waitlisted"
    version: Literal[1] = 1
    payload: WaitlistedData


class RefusalReason(StrEnum):
    FULL = "full"
    ALREADY_BOOKED = "already_booked"
    IN_THE_PAST = "in_the_past"
    NO_SUCH_SLOT = "no_such_slot"
    NOT_A_PARTICIPANT = "not_a_participant"


class BookingRefusedData(Payload):
    office_hours_id: EntityId
    booking_id: EntityId
    person_id: PersonId
    reason: RefusalReason
    message: ShortText = Field(description="What went wrong, in words the person can act on.")


class BookingRefused(_OfficeHoursEvent):
    """A booking was refused: a double booking, a full slot or a slot in the past."""

    type: Literal["scheduling.booking_refused"] = "scheduling.booking_refused"
    version: Literal[1] = 1
    payload: BookingRefusedData
