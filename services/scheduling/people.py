"""Scheduling's own view of people, from profile events only: time zone, weekly availability,
and the name and address an invite needs (never logged)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from contracts.common import AvailabilityWindow
from contracts.profile import ProfileSnapshot, ProfileStatus
from services.runtime.idempotency import upsert_if_newer
from services.runtime.mongo import Document, find_by_ids
from services.scheduling.slots import Attendee


@dataclass(frozen=True)
class Person:
    person_id: str
    time_zone: str
    availability: tuple[AvailabilityWindow, ...]
    email: str
    name: str
    active: bool

    @property
    def attendee_zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @property
    def attendee(self) -> Attendee:
        return Attendee(person_id=self.person_id, time_zone=self.time_zone, availability=self.availability)


class PersonNotKnownYet(RuntimeError):
    """A message about someone overtook their profile event; a retry lets it arrive."""


class People:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection: AsyncCollection[Document] = db["people"]

    async def remember(self, snapshot: ProfileSnapshot) -> None:
        """Keep the newest snapshot's scheduling facts (older redeliveries change nothing)."""
        await upsert_if_newer(
            self.collection,
            snapshot.person_id,
            snapshot.revision,
            {
                "time_zone": snapshot.time_zone or "UTC",
                "availability": [w.model_dump(mode="json") for w in snapshot.availability],
                "email": str(snapshot.email),
                "name": snapshot.display_name,
                "active": snapshot.status is ProfileStatus.ACTIVE,
            },
        )

    async def find(self, person_ids: Iterable[str]) -> dict[str, Person]:
        found: dict[str, Person] = {}
        for doc in await find_by_ids(self.collection, person_ids):
            found[doc["_id"]] = Person(
                person_id=doc["_id"],
                time_zone=doc["time_zone"],
                availability=tuple(AvailabilityWindow.model_validate(w) for w in doc["availability"]),
                email=doc["email"],
                name=doc["name"],
                active=doc["active"],
            )
        return found

    async def require(self, person_ids: Iterable[str]) -> dict[str, Person]:
        """Everyone named, or a retryable error when a profile has not arrived yet."""
        ids = list(person_ids)
        found = await self.find(ids)
        if len(found) < len(set(ids)):
            raise PersonNotKnownYet(f"{len(set(ids)) - len(found)} of {len(set(ids))} people not known yet")
        return found
