"""Now, later or in the digest: the decision for one notice on one channel. Pure.

- urgent notices (reminders, a session moved or cancelled) go out at once, whatever the hour;
- low-priority notices wait for the daily digest of a person who asked for one;
- chat messages wait for the end of the person's quiet hours (email waits in the inbox anyway,
  so it is never held back).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time

from contracts.profile import Channel
from services.notification.contacts import Contact
from services.notification.notices import Notice, Priority
from services.notification.timing import next_digest_at, quiet_until

CHAT_CHANNELS = frozenset({Channel.SLACK, Channel.TEAMS, Channel.WEBHOOK})


@dataclass(frozen=True)
class Route:
    at: datetime | None = None  # None: now
    reason: str | None = None  # "quiet_hours" or "digest" when it waits


def goes_to_digest(notice: Notice, contact: Contact) -> bool:
    return notice.priority is Priority.LOW and contact.digest


def digest_time(contact: Contact, now: datetime, at: time) -> datetime:
    return next_digest_at(now, contact.zone, at)


def route(notice: Notice, contact: Contact, channel: Channel, now: datetime) -> Route:
    """When this notice may go out on ``channel`` (digest routing is decided per person first)."""
    quiet = contact.quiet_hours
    if notice.priority is Priority.URGENT or channel not in CHAT_CHANNELS or quiet is None:
        return Route()
    until = quiet_until(now, contact.zone, *quiet)
    return Route() if until is None else Route(at=until, reason="quiet_hours")
