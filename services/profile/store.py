"""The profile service's own collections.

- ``profiles``: one document per person: the HR facts, external registration and own
  settings the profile is folded from, the published snapshot, a write version for
  optimistic concurrency, processed event ids and the outbox.
  Messages about one person share a key, hence a partition, hence one consumer at a time;
  the version filter only matters while a rebalance briefly overlaps two consumers. It is
  a real guard on MongoDB, where conditional updates are atomic; FerretDB 1.x does not make
  them atomic (see ``services.runtime.claims``), which the local stack accepts; an unpatched
  FerretDB checks the version on a read by ``_id`` instead (see
  ``services.runtime.mongo.FilterSupport``).
- ``email_claims``: one claim per work email in use (``services.runtime.claims``), so two
  active people can never share one, even when two replicas race.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from contracts.catalogue import HR_EMPLOYEES, PROFILE_COMMANDS, decode_object
from contracts.envelope import Envelope
from contracts.profile import ProfileSnapshot, ProfileStatus
from services.profile.domain import OwnSettings, PersonRecord
from services.runtime.claims import claim, release
from services.runtime.idempotency import PROCESSED_FIELD, PROCESSED_KEEP
from services.runtime.mongo import Document, filter_support
from services.runtime.outbox import OUTBOX_FIELD, outbox_entries

PROFILES = "profiles"
EMAIL_CLAIMS = "email_claims"


class ConcurrentChange(Exception):
    """Another writer changed the person first; the message is retried on the fresh state."""


class EmailTaken(Exception):
    """The work email belongs to another active person."""


@dataclass(frozen=True)
class Loaded:
    record: PersonRecord
    version: int | None
    processed: frozenset[str]


async def ensure_indexes(db: AsyncDatabase[Document]) -> None:
    profiles = db[PROFILES]
    await profiles.create_index([("snapshot.status", 1), ("snapshot.team", 1)])
    await profiles.create_index([("snapshot.skills.name", 1)])
    await profiles.create_index([("snapshot.mentor.opted_in", 1)])
    # A person may briefly hold two emails while changing address, so owners are not unique here.
    await db[EMAIL_CLAIMS].create_index([("owner", 1)])


def record_from(doc: Document) -> PersonRecord:
    external = doc.get("external")
    own = doc.get("own") or {}
    snapshot = doc.get("snapshot")
    return PersonRecord(
        person_id=doc["_id"],
        hr_facts=tuple(
            decode_object(HR_EMPLOYEES.name, fact)  # type: ignore[misc]
            for fact in doc.get("hr_facts", [])
        ),
        external=(
            decode_object(PROFILE_COMMANDS.name, external)  # type: ignore[arg-type]
            if external
            else None
        ),
        own=OwnSettings(values=own.get("values", {}), time_zone_at=own.get("time_zone_at")),
        snapshot=ProfileSnapshot.model_validate(snapshot) if snapshot else None,
    )


def fields_of(record: PersonRecord) -> Document:
    return {
        # exclude_unset keeps which fields an update named: an absent field means "unchanged",
        # and a reloaded fact must not turn into one that clears every field it left out.
        "hr_facts": [fact.model_dump(mode="json", exclude_unset=True) for fact in record.hr_facts],
        "external": record.external.model_dump(mode="json") if record.external else None,
        "own": {"values": record.own.values, "time_zone_at": record.own.time_zone_at},
        "snapshot": record.snapshot.model_dump(mode="json") if record.snapshot else None,
        "revision": record.snapshot.revision if record.snapshot else 0,
    }


class ProfileStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.profiles: AsyncCollection[Document] = db[PROFILES]
        self.email_claims: AsyncCollection[Document] = db[EMAIL_CLAIMS]

    async def load(self, person_id: str) -> Loaded:
        doc = await self.profiles.find_one({"_id": person_id}, {OUTBOX_FIELD: 0})
        if doc is None:
            return Loaded(PersonRecord(person_id=person_id), None, frozenset())
        return Loaded(record_from(doc), doc["version"], frozenset(doc.get(PROCESSED_FIELD, ())))

    async def save(
        self, record: PersonRecord, expected_version: int | None, cause_id: str, messages: list[Envelope]
    ) -> list[Document]:
        """Write the record with its outgoing messages, if nobody wrote since it was loaded.

        Returns the outbox entries written, for delivery."""
        entries = outbox_entries(messages)
        fields = fields_of(record)
        if expected_version is None:
            doc = {
                "_id": record.person_id,
                **fields,
                "version": 1,
                PROCESSED_FIELD: [cause_id],
                OUTBOX_FIELD: entries,
            }
            try:
                await self.profiles.insert_one(doc)
            except DuplicateKeyError as error:
                raise ConcurrentChange(record.person_id) from error
            return entries
        update = {
            "$set": {**fields, "version": expected_version + 1},
            "$push": {PROCESSED_FIELD: {"$each": [cause_id], "$slice": -PROCESSED_KEEP}},
        }
        if entries:
            update["$push"][OUTBOX_FIELD] = {"$each": entries}
        guard: Document = {"version": expected_version}
        if not (await filter_support(self.profiles)).conditions_in_filter:
            # An unpatched FerretDB reads the whole collection for any filter but a bare _id, and would not
            # make the version filter atomic anyway: check the version on a fresh read instead,
            # which catches the same overlapping writer the filter would have caught there.
            stored = await self.profiles.find_one({"_id": record.person_id}, {"version": 1})
            if stored is None or stored.get("version") != expected_version:
                raise ConcurrentChange(record.person_id)
            guard = {}
        result = await self.profiles.update_one({"_id": record.person_id, **guard}, update)
        if result.matched_count == 0:
            raise ConcurrentChange(record.person_id)
        return entries

    async def claim_email(self, email: str, person_id: str) -> None:
        """Reserve a work email for a person; idempotent for the same person."""
        if not await claim(self.email_claims, email.lower(), person_id):
            raise EmailTaken(email.lower())

    async def release_email(self, email: str, person_id: str) -> None:
        await release(self.email_claims, email.lower(), person_id)

    async def get(self, person_id: str) -> ProfileSnapshot | None:
        doc = await self.profiles.find_one({"_id": person_id}, {"snapshot": 1})
        return ProfileSnapshot.model_validate(doc["snapshot"]) if doc and doc.get("snapshot") else None

    async def search(
        self,
        *,
        skill: str | None,
        team: str | None,
        available_mentors: bool,
        after: str | None,
        limit: int,
    ) -> list[ProfileSnapshot]:
        """Active and on-leave profiles matching every given filter, in person id order."""
        query: dict[str, Any] = {
            "snapshot": {"$ne": None},
            "snapshot.status": {"$in": [ProfileStatus.ACTIVE.value, ProfileStatus.ON_LEAVE.value]},
        }
        if skill:
            query["snapshot.skills.name"] = skill.lower()
        if team:
            query["snapshot.team"] = team
        if available_mentors:
            query["snapshot.status"] = ProfileStatus.ACTIVE.value
            query["snapshot.mentor.opted_in"] = True
            query["snapshot.mentor.capacity"] = {"$gt": 0}
        if after:
            query["_id"] = {"$gt": after}
        cursor = self.profiles.find(query, {"snapshot": 1}).sort("_id", 1).limit(limit)
        return [ProfileSnapshot.model_validate(doc["snapshot"]) async for doc in cursor]
