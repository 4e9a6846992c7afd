"""Reminders before a session, and matches that have gone quiet.

Reminder ids are uuid5 of the session, the lead time and the start, so planning the same
session twice yields the same ids (redelivery sends nothing twice), a reschedule yields new ones,
and the old ones can still be found from the previous start to withdraw them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.scheduling.slots import utc

REMINDER_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_DNS, "reminders.scheduling.mentorship.local")
DEFAULT_REMINDER_OFFSETS: tuple[timedelta, ...] = (timedelta(hours=24), timedelta(hours=1))


@dataclass(frozen=True)
class Reminder:
    reminder_id: str
    session_id: str
    starts_at: datetime
    due_at: datetime
    lead_minutes: int


def reminder_id(session_id: str, starts_at: datetime, lead: timedelta) -> str:
    """The deterministic id of the reminder ``lead`` before this start of this session."""
    minutes = _lead_minutes(lead)
    return str(uuid.uuid5(REMINDER_NAMESPACE, f"{session_id}|{minutes}|{utc(starts_at).isoformat()}"))


def reminder_times(
    session_id: str,
    starts_at: datetime,
    *,
    now: datetime,
    offsets: Sequence[timedelta] = DEFAULT_REMINDER_OFFSETS,
) -> list[Reminder]:
    """The reminders still worth sending for a session starting at ``starts_at``, earliest first.

    A reminder whose time has already passed is left out: a "tomorrow" reminder for a session
    booked an hour ahead is noise.
    """
    start, moment = utc(starts_at), utc(now)
    planned = [
        Reminder(
            reminder_id=reminder_id(session_id, start, lead),
            session_id=session_id,
            starts_at=start,
            due_at=start - lead,
            lead_minutes=_lead_minutes(lead),
        )
        for lead in set(offsets)
    ]
    return sorted((r for r in planned if r.due_at > moment), key=lambda r: r.due_at)


def due_reminders(reminders: Iterable[Reminder], *, now: datetime) -> list[Reminder]:
    """The reminders to send at ``now``: due, and their session not yet started."""
    moment = utc(now)
    return sorted((r for r in reminders if r.due_at <= moment < r.starts_at), key=lambda r: r.due_at)


def is_inactive(
    last_completed: datetime | None, confirmed_at: datetime, now: datetime, weeks: int
) -> int | None:
    """Whole weeks without a session, when there have been at least ``weeks`` of them; else None.

    The quiet time counts from the last completed session, or from the match's confirmation
    when there has been none yet.
    """
    if weeks < 1:
        raise ValueError("weeks must be at least 1")
    since = utc(confirmed_at) if last_completed is None else max(utc(last_completed), utc(confirmed_at))
    quiet = (utc(now) - since) // timedelta(weeks=1)
    return quiet if quiet >= weeks else None


def _lead_minutes(lead: timedelta) -> int:
    minutes, rest = divmod(lead, timedelta(minutes=1))
    if rest or minutes < 1:
        raise ValueError("reminder offsets must be a positive whole number of minutes")
    return int(minutes)
