"""Notification's own view of how to reach people, built from profile events only.

Addresses and webhook URLs are personal data (a webhook URL is also a credential): they are
kept here and used to send, never logged.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import time
from zoneinfo import ZoneInfo

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from contracts.profile import Channel, ProfileSnapshot, ProfileStatus
from services.runtime.idempotency import Outcome, upsert_if_newer
from services.runtime.mongo import Document, find_by_ids

COLLECTION = "contacts"


@dataclass(frozen=True)
class Contact:
    person_id: str
    name: str
    email: str
    time_zone: str
    active: bool
    channels: tuple[Channel, ...]
    slack_webhook_url: str | None = None
    slack_user_id: str | None = None
    teams_webhook_url: str | None = None
    webhook_url: str | None = None
    quiet_start: time | None = None
    quiet_end: time | None = None
    digest: bool = False

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @property
    def quiet_hours(self) -> tuple[time, time] | None:
        if self.quiet_start is None or self.quiet_end is None:
            return None
        return self.quiet_start, self.quiet_end


def contact_fields(snapshot: ProfileSnapshot) -> dict[str, object]:
    """What notification keeps of a profile snapshot."""
    contact = snapshot.contact
    quiet = contact.quiet_hours
    return {
        "name": snapshot.display_name,
        "email": str(snapshot.email),
        "time_zone": snapshot.time_zone or "UTC",
        "active": snapshot.status is not ProfileStatus.DEACTIVATED,
        "channels": [c.value for c in dict.fromkeys(contact.channels)],
        "slack_webhook_url": str(contact.slack_webhook_url) if contact.slack_webhook_url else None,
        "slack_user_id": contact.slack_user_id,
        "teams_webhook_url": str(contact.teams_webhook_url) if contact.teams_webhook_url else None,
        "webhook_url": str(contact.webhook_url) if contact.webhook_url else None,
        "quiet_start": quiet.start.isoformat() if quiet else None,
        "quiet_end": quiet.end.isoformat() if quiet else None,
        "digest": contact.digest,
    }


def _contact(doc: Document) -> Contact:
    return Contact(
        person_id=doc["_id"],
        name=doc["name"],
        email=doc["email"],
        time_zone=doc["time_zone"],
        active=doc["active"],
        channels=tuple(Channel(c) for c in doc["channels"]),
        slack_webhook_url=doc.get("slack_webhook_url"),
        slack_user_id=doc.get("slack_user_id"),
        teams_webhook_url=doc.get("teams_webhook_url"),
        webhook_url=doc.get("webhook_url"),
        quiet_start=time.fromisoformat(doc["quiet_start"]) if doc.get("quiet_start") else None,
        quiet_end=time.fromisoformat(doc["quiet_end"]) if doc.get("quiet_end") else None,
        digest=bool(doc.get("digest")),
    )


class Contacts:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection: AsyncCollection[Document] = db[COLLECTION]

    async def remember(self, snapshot: ProfileSnapshot) -> bool:
        """Keep the newest snapshot's contact facts; True when this one was news."""
        outcome = await upsert_if_newer(
            self.collection, snapshot.person_id, snapshot.revision, contact_fields(snapshot)
        )
        return outcome is Outcome.APPLIED

    async def find(self, person_ids: Iterable[str]) -> dict[str, Contact]:
        docs = await find_by_ids(self.collection, person_ids)
        return {doc["_id"]: _contact(doc) for doc in docs}
