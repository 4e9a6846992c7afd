"""Who hears about an event, with which template, and how urgently. Pure: no I/O.

Each event becomes at most one notice per person (the delivery log is keyed by event, person
and channel, so a second notice for the same person would be indistinguishable). The notice
carries the payload's facts for the template and the ids of the other people it names; names
and local times are filled in per recipient when it is rendered.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from contracts.envelope import Envelope
from contracts.matching import (
    AdvisoryBoardFormed,
    CircleFormed,
    MatchConfirmed,
    MatchEnded,
    MatchProposed,
    RequestWaitlisted,
)
from contracts.recognition import BadgeAwarded, KudosGiven, RecognitionDigestReady
from contracts.scheduling import (
    BookingRefused,
    MatchInactive,
    NoSlotFound,
    OfficeHoursBooked,
    OfficeHoursBookingCancelled,
    ReminderDue,
    SeatReserved,
    SessionCancelled,
    SessionRescheduled,
    SessionScheduled,
    Waitlisted,
)


class Priority(StrEnum):
    URGENT = "urgent"  # time-critical: goes out even in quiet hours, never into a digest
    NORMAL = "normal"  # goes out now, or when the person's quiet hours end
    LOW = "low"  # may wait for the person's daily digest


@dataclass(frozen=True)
class Invite:
    """A calendar invite to attach, as scheduling produced it."""

    uid: str
    sequence: int
    ics: str
    cancelled: bool = False


@dataclass(frozen=True)
class Notice:
    recipient_id: str
    template: str
    priority: Priority
    data: Mapping[str, Any]
    link: str
    mentions: tuple[str, ...] = ()
    invite: Invite | None = None
    role: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


def _invite(payload: Any, *, cancelled: bool = False) -> Invite:
    invite = payload.invite
    return Invite(uid=invite.uid, sequence=invite.sequence, ics=invite.ics, cancelled=cancelled)


def _unique(ids: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(ids))


def _each(
    recipients: Iterable[str],
    template: str,
    priority: Priority,
    data: Mapping[str, Any],
    link: str,
    *,
    named: Iterable[str] = (),
    invite: Invite | None = None,
    role_of: Callable[[str], str | None] = lambda _: None,
) -> list[Notice]:
    everyone = _unique(named)
    return [
        Notice(
            recipient_id=person,
            template=template,
            priority=priority,
            data=data,
            link=link,
            mentions=tuple(p for p in everyone if p != person),
            invite=invite,
            role=role_of(person),
        )
        for person in _unique(recipients)
    ]


def _pair(
    p: Any, template: str, priority: Priority, data: dict[str, Any], *, skip: str | None = None
) -> list[Notice]:
    """Both people of a match (but ``skip``, who did it and knows), each told their role."""
    role = {p.mentor_id: "mentor", p.mentee_id: "mentee"}.get
    told = [person for person in (p.mentee_id, p.mentor_id) if person != skip]
    return _each(
        told,
        template,
        priority,
        data,
        f"/matches/{p.match_id}",
        named=[p.mentor_id, p.mentee_id],
        role_of=role,
    )


def _matching(event: Envelope, data: dict[str, Any]) -> list[Notice]:
    match event:
        case MatchProposed(payload=p):
            return _pair(p, "match_proposed", Priority.NORMAL, data)
        case MatchConfirmed(payload=p):
            return _pair(p, "match_confirmed", Priority.NORMAL, data)
        case MatchEnded(payload=p):
            return _pair(p, "match_ended", Priority.NORMAL, data, skip=p.ended_by)
        case RequestWaitlisted(payload=p):
            return _each([p.person_id], "request_waitlisted", Priority.NORMAL, data, "/requests")
        case CircleFormed(payload=p):
            facilitator = p.facilitator_id
            return _each(
                p.member_ids,
                "circle_formed",
                Priority.NORMAL,
                data,
                f"/circles/{p.circle_id}",
                named=[*p.member_ids, *([facilitator] if facilitator else [])],
                role_of=lambda person: "facilitator" if person == facilitator else "member",
            )
        case AdvisoryBoardFormed(payload=p):
            mentors = [seat.mentor_id for seat in p.seats]
            return _each(
                [p.mentee_id, *mentors],
                "board_formed",
                Priority.NORMAL,
                data,
                f"/boards/{p.board_id}",
                named=[p.mentee_id, *mentors],
                role_of=lambda person: "mentee" if person == p.mentee_id else "mentor",
            )
    return []


def _sessions(event: Envelope, data: dict[str, Any]) -> list[Notice]:
    match event:
        case SessionRescheduled(payload=p):
            people = [*p.host_ids, *p.participant_ids]
            return _each(
                people,
                "session_rescheduled",
                Priority.URGENT,
                data,
                f"/sessions/{p.session_id}",
                named=people,
                invite=_invite(p),
            )
        case SessionScheduled(payload=p):
            people = [*p.host_ids, *p.participant_ids]
            hosts = set(p.host_ids)
            return _each(
                people,
                "session_scheduled",
                Priority.NORMAL,
                data,
                f"/sessions/{p.session_id}",
                named=people,
                invite=_invite(p),
                role_of=lambda person: "host" if person in hosts else "participant",
            )
        case SessionCancelled(payload=p) if not p.after_completion:
            people = [*p.host_ids, *p.participant_ids]
            return _each(
                people,
                "session_cancelled",
                Priority.URGENT,
                data,
                f"/sessions/{p.session_id}",
                named=people,
                invite=_invite(p, cancelled=True),
            )
        case ReminderDue(payload=p):
            return _each([p.person_id], "reminder", Priority.URGENT, data, f"/sessions/{p.session_id}")
        case NoSlotFound(payload=p):
            return _each(
                p.person_ids,
                "no_slot_found",
                Priority.NORMAL,
                data,
                "/settings/availability",
                named=p.person_ids,
            )
        case MatchInactive(payload=p):
            return _pair(p, "match_inactive", Priority.LOW, data)
    return []


def _bookings(event: Envelope, data: dict[str, Any]) -> list[Notice]:
    match event:
        case OfficeHoursBooked(payload=p):
            link = f"/office-hours/{p.office_hours_id}"
            booker = Notice(
                recipient_id=p.person_id,
                template="office_hours_booked",
                priority=Priority.NORMAL,
                data=data,
                link=link,
                mentions=(p.host_id,),
                invite=_invite(p),
                role="guest",
            )
            host = Notice(
                recipient_id=p.host_id,
                template="office_hours_booked",
                priority=Priority.LOW,
                data=data,
                link=link,
                mentions=(p.person_id,),
                role="host",
            )
            return [booker] if p.host_id == p.person_id else [booker, host]
        case OfficeHoursBookingCancelled(payload=p):
            return _each(
                [p.person_id],
                "office_hours_booking_cancelled",
                Priority.NORMAL,
                data,
                f"/office-hours/{p.office_hours_id}",
                invite=_invite(p, cancelled=True),
            )
        case BookingRefused(payload=p):
            return _each(
                [p.person_id], "booking_refused", Priority.NORMAL, data, f"/office-hours/{p.office_hours_id}"
            )
        case SeatReserved(payload=p):
            return _each(
                [p.person_id],
                "seat_reserved",
                Priority.NORMAL,
                data,
                f"/group-sessions/{p.group_session_id}",
                invite=_invite(p),
            )
        case Waitlisted(payload=p):
            return _each(
                [p.person_id], "waitlisted", Priority.NORMAL, data, f"/group-sessions/{p.group_session_id}"
            )
    return []


def _recognition(event: Envelope, data: dict[str, Any]) -> list[Notice]:
    match event:
        case BadgeAwarded(payload=p):
            return _each(
                [p.person_id], "badge_awarded", Priority.LOW, data, f"/people/{p.person_id}/recognition"
            )
        case KudosGiven(payload=p):
            return _each(
                [p.to_id],
                "kudos_received",
                Priority.LOW,
                data,
                f"/people/{p.to_id}/recognition",
                named=[p.from_id],
            )
        case RecognitionDigestReady(payload=p):
            people = [line.person_id for line in p.lines]
            return _each(
                p.recipient_ids,
                "recognition_digest",
                Priority.NORMAL,
                data,
                f"/recognition/{p.scope}/{p.scope_id}",
                named=people,
            )
    return []


_ROUTES = (_matching, _sessions, _bookings, _recognition)

TEMPLATES = (
    "match_proposed", "match_confirmed", "match_ended", "request_waitlisted", "circle_formed", "board_formed",
    "session_scheduled", "session_rescheduled", "session_cancelled", "reminder", "no_slot_found",
    "match_inactive", "office_hours_booked", "office_hours_booking_cancelled", "booking_refused",
    "seat_reserved", "waitlisted", "badge_awarded", "kudos_received", "recognition_digest", "daily_digest",
)  # fmt: skip
"""Every template the service renders (each has a text and an HTML file)."""


def notices_for(event: Envelope) -> list[Notice]:
    """The notices an event produces; none for events nobody needs to hear about."""
    # The invite travels separately (as an attachment); the template needs only the facts.
    data = event.payload.model_dump(mode="json", exclude={"invite"})
    for route in _ROUTES:
        notices = route(event, data)
        if notices:
            return notices
    return []


def notice_to_doc(notice: Notice) -> dict[str, Any]:
    """A notice as stored while it waits (parked for a profile, or queued for a digest)."""
    invite = notice.invite
    return {
        "recipient_id": notice.recipient_id,
        "template": notice.template,
        "priority": notice.priority.value,
        "data": dict(notice.data),
        "link": notice.link,
        "mentions": list(notice.mentions),
        "invite": None
        if invite is None
        else {
            "uid": invite.uid,
            "sequence": invite.sequence,
            "ics": invite.ics,
            "cancelled": invite.cancelled,
        },
        "role": notice.role,
        "extra": dict(notice.extra),
    }


def notice_from_doc(doc: Mapping[str, Any]) -> Notice:
    invite = doc.get("invite")
    return Notice(
        recipient_id=doc["recipient_id"],
        template=doc["template"],
        priority=Priority(doc["priority"]),
        data=doc["data"],
        link=doc["link"],
        mentions=tuple(doc.get("mentions") or ()),
        invite=Invite(**invite) if invite else None,
        role=doc.get("role"),
        extra=doc.get("extra") or {},
    )
