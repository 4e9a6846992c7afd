"""The profile service's own collections."""

from __future__ import annotations

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from contracts.envelope import Envelope
from contracts.profile import ProfileSnapshot
from services.runtime.idempotency import Outcome, apply_once
from services.runtime.mongo import Document
from services.runtime.outbox import with_outbox


async def ensure_indexes(db: AsyncDatabase[Document]) -> None:
    profiles = db["profiles"]
    await profiles.create_index([("snapshot.team", 1)])
    await profiles.create_index([("snapshot.skills.name", 1)])


class ProfileStore:
    """Profiles, one document per person: the snapshot, its revision and its outbox."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.profiles: AsyncCollection[Document] = db["profiles"]

    async def get(self, person_id: str) -> ProfileSnapshot | None:
        doc = await self.profiles.find_one({"_id": person_id}, {"snapshot": 1})
        return ProfileSnapshot.model_validate(doc["snapshot"]) if doc else None

    async def create(self, snapshot: ProfileSnapshot, cause_id: str, messages: list[Envelope]) -> Outcome:
        """Insert a new profile with its outgoing messages, once per cause."""
        update = {
            "$setOnInsert": {
                "snapshot": snapshot.model_dump(mode="json"),
                "revision": snapshot.revision,
            }
        }
        return await apply_once(self.profiles, snapshot.person_id, cause_id, with_outbox(update, messages))
