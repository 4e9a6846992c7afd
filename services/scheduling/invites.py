"""RFC 5545 calendar invites: one event per session, updated in place by its UID and SEQUENCE.

Calendars match an update to the event they hold by UID, and apply it only when SEQUENCE is
higher, so a session keeps one UID for life and every reschedule or cancellation raises the
sequence. The ``icalendar`` library writes the text (escaping, CRLF, folding at 75 octets).

Email addresses go into the invite, which is its purpose; they never go into an error message.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vCalAddress, vRecur

from contracts.scheduling import Cadence
from services.scheduling.slots import month_week, recurrence, utc

DEFAULT_UID_DOMAIN = "mentorship.local"
PRODID = "-//Mentorship Platform//Scheduling//EN"
# Deliberately strict: a stray CR, LF, quote or space in an address would let it break out of
# its content line and inject properties.
_EMAIL = re.compile(r"^[^\s@\"<>;:,\\]+@[^\s@\"<>;:,\\]+\.[^\s@\"<>;:,\\]+$")
_BYDAY = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


class Method(StrEnum):
    REQUEST = "REQUEST"
    CANCEL = "CANCEL"


class Status(StrEnum):
    CONFIRMED = "CONFIRMED"
    CANCELLED = "CANCELLED"


@dataclass(frozen=True)
class Organiser:
    """Who sends the invite. Without an email no ORGANIZER is written (it needs an address)."""

    email: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class Repeat:
    """A series: ``count`` sessions at the organiser's local time in ``time_zone``."""

    cadence: Cadence
    count: int
    time_zone: str


def stable_uid(session_id: str, domain: str = DEFAULT_UID_DOMAIN) -> str:
    """The UID a session keeps for life, across reschedules and its cancellation."""
    return f"{session_id}@{domain}"


def invite(
    uid: str,
    sequence: int,
    start: datetime,
    end: datetime,
    summary: str,
    description: str | None = None,
    *,
    organiser: Organiser | None = None,
    attendees: Sequence[str] = (),
    repeat: Repeat | None = None,
    status: Status = Status.CONFIRMED,
    method: Method = Method.REQUEST,
    stamp: datetime | None = None,
) -> str:
    """The VCALENDAR text of one session's invite, update or cancellation.

    A single session has DTSTART and DTEND in UTC (``...Z``). A series (``repeat``) is written
    in the organiser's zone with its VTIMEZONE instead: a rule over UTC times would move the
    local time at every daylight-saving change, and ``recurrence`` keeps it fixed. ``stamp``
    (DTSTAMP) defaults to now; pass the triggering event's time so a redelivered message yields
    the same text.
    """
    _check(sequence, start, end, status, method)
    zone = UTC if repeat is None else ZoneInfo(repeat.time_zone)
    event = _identified_event(uid, sequence, stamp)
    event.add("dtstart", utc(start).astimezone(zone))
    event.add("dtend", utc(end).astimezone(zone))
    event.add("summary", summary)
    if description:
        event.add("description", description)
    event.add("status", status.value)
    _add_people(event, organiser, attendees)
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", method.value)
    calendar.add_component(event)
    if repeat is not None:
        event.add("rrule", _rule(repeat, utc(start).astimezone(zone)))
        _add_time_zone(calendar, start, repeat)
    text: bytes = calendar.to_ical()
    return text.decode("utf-8")


def _check(sequence: int, start: datetime, end: datetime, status: Status, method: Method) -> None:
    if sequence < 0:
        raise ValueError("SEQUENCE cannot be negative")
    if utc(end) <= utc(start):
        raise ValueError("an invite must end after it starts")
    if (method is Method.CANCEL) != (status is Status.CANCELLED):
        raise ValueError("METHOD:CANCEL and STATUS:CANCELLED go together")


def _identified_event(uid: str, sequence: int, stamp: datetime | None) -> Event:
    event = Event()
    event.add("uid", uid)
    event.add("sequence", sequence)
    event.add("dtstamp", utc(stamp) if stamp is not None else datetime.now(UTC))
    return event


def _add_people(event: Event, organiser: Organiser | None, attendees: Sequence[str]) -> None:
    if organiser is not None and organiser.email is not None:
        event.add("organizer", _address(organiser.email, name=organiser.name))
    for email in attendees:
        event.add("attendee", _address(email, attendee=True))


def _address(email: str, *, name: str | None = None, attendee: bool = False) -> vCalAddress:
    if not _EMAIL.match(email):
        raise ValueError("an organiser or attendee email address is malformed")
    address = vCalAddress(f"mailto:{email}")
    if name:
        address.params["CN"] = name
    if attendee:
        address.params["ROLE"] = "REQ-PARTICIPANT"
        address.params["PARTSTAT"] = "NEEDS-ACTION"
        address.params["RSVP"] = "TRUE"
    return address


def _add_time_zone(calendar: Calendar, start: datetime, repeat: Repeat) -> None:
    last = recurrence(start, repeat.time_zone, repeat.cadence, repeat.count)[-1]
    # The VTIMEZONE must cover every occurrence; a year's margin either side is plenty, and far
    # shorter than the library's default span.
    calendar.add_missing_timezones(
        first_date=utc(start).date() - timedelta(days=366), last_date=last.date() + timedelta(days=366)
    )


def _rule(repeat: Repeat, local_start: datetime) -> vRecur:
    if repeat.count < 1:
        raise ValueError("a series needs at least one session")
    if repeat.cadence is Cadence.MONTHLY:
        weekday = f"{month_week(local_start.date())}{_BYDAY[local_start.weekday()]}"
        return vRecur(freq="MONTHLY", byday=weekday, count=repeat.count)
    interval = 2 if repeat.cadence is Cadence.FORTNIGHTLY else 1
    return vRecur(freq="WEEKLY", interval=interval, count=repeat.count)
