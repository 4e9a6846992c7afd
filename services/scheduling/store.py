"""The scheduling service's collections for matched sessions.

- ``series``: one per match, circle or board: who meets, how often, where in the cadence it
  is, and when it last met (for nudges).
- ``sessions``: one per occurrence, with its invite's UID and sequence, its outcomes, and the
  outbox of its events. Occurrences are inserted under deterministic ids, so of two replicas
  creating the same one, one insert wins and only its outbox is sent.
- ``reminders``: pending reminders with their due time; ``fired`` holds one document per
  reminder sent (unique id: fired once however many replicas sweep), with its outbox.
- ``nudges``: one document per inactivity nudge, the same way.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from contracts.envelope import Envelope
from services.runtime.idempotency import PROCESSED_FIELD, Outcome, apply_once
from services.runtime.mongo import Document
from services.runtime.outbox import OUTBOX_FIELD, outbox_entries

DUPLICATE_KEY = 11000


async def ensure_session_indexes(db: AsyncDatabase[Document]) -> None:
    await db["sessions"].create_index([("person_ids", 1), ("starts_at", 1)])
    await db["sessions"].create_index([("series_id", 1), ("index", 1)])
    await db["series"].create_index([("state", 1)])
    await db["reminders"].create_index([("due_at", 1)])


class SessionStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.series: AsyncCollection[Document] = db["series"]
        self.sessions: AsyncCollection[Document] = db["sessions"]
        self.reminders: AsyncCollection[Document] = db["reminders"]
        self.fired: AsyncCollection[Document] = db["fired"]
        self.nudges: AsyncCollection[Document] = db["nudges"]

    async def start_series(self, series: Document, messages: list[Envelope]) -> list[Document]:
        """Record a series once (a redelivered confirmation finds it there); entries to send."""
        entries = outbox_entries(messages)
        try:
            await self.series.insert_one({**series, OUTBOX_FIELD: entries})
        except DuplicateKeyError:
            return []
        return entries

    async def get_series(self, series_id: str) -> Document | None:
        return await self.series.find_one({"_id": series_id}, {OUTBOX_FIELD: 0})

    async def update_series(self, series_id: str, fields: Document) -> None:
        await self.series.update_one({"_id": series_id}, {"$set": fields})

    async def active_series(self) -> list[Document]:
        return [doc async for doc in self.series.find({"state": "active"}, {OUTBOX_FIELD: 0})]

    async def add_session(self, session: Document, messages: list[Envelope]) -> list[Document]:
        """Insert an occurrence with its announcement; empty when it existed already."""
        entries = outbox_entries(messages)
        try:
            await self.sessions.insert_one({**session, OUTBOX_FIELD: entries, PROCESSED_FIELD: []})
        except DuplicateKeyError:
            return []
        return entries

    async def session(self, session_id: str) -> Document | None:
        return await self.sessions.find_one({"_id": session_id}, {OUTBOX_FIELD: 0})

    async def change_session(
        self, session_id: str, cause_id: str, fields: Document, messages: list[Envelope]
    ) -> list[Document]:
        """Apply a change caused by ``cause_id`` once, with its events; entries to send."""
        entries = outbox_entries(messages)
        update: Document = {"$set": fields}
        if entries:
            update["$push"] = {OUTBOX_FIELD: {"$each": entries}}
        # The kit picks the guard's place by server: in the filter on MongoDB and the local
        # stack's FerretDB, read first on an unpatched FerretDB, whose only cheap filter is a
        # bare _id (services.runtime.mongo.FilterSupport).
        outcome = await apply_once(self.sessions, session_id, cause_id, update, upsert=False)
        return entries if outcome is Outcome.APPLIED else []

    async def sessions_of_series(self, series_id: str) -> list[Document]:
        query = {"series_id": series_id}
        return [doc async for doc in self.sessions.find(query, {OUTBOX_FIELD: 0}).sort("index", 1)]

    async def upcoming_of(self, person_id: str, now: datetime) -> list[Document]:
        query = {"person_ids": person_id, "state": "scheduled", "ends_at": {"$gt": now}}
        projection = {OUTBOX_FIELD: 0, PROCESSED_FIELD: 0}
        return [doc async for doc in self.sessions.find(query, projection).sort("starts_at", 1)]

    async def plan_reminders(self, reminders: list[Document]) -> None:
        if not reminders:
            return
        try:
            await self.reminders.insert_many(reminders, ordered=False)
        except BulkWriteError as error:
            # Planned before by a redelivery: those already there stay as they are.
            if any(e.get("code") != DUPLICATE_KEY for e in error.details.get("writeErrors", [])):
                raise

    async def drop_reminders(self, session_id: str) -> None:
        await self.reminders.delete_many({"session_id": session_id})

    async def due_reminders(self, now: datetime, limit: int = 500) -> list[Document]:
        query = {"due_at": {"$lte": now}}
        return [doc async for doc in self.reminders.find(query).sort("due_at", 1).limit(limit)]

    async def fire_once(self, reminder_id: str, messages: list[Envelope]) -> list[Document]:
        """Claim the sending of a reminder; the entries to send, or none when already claimed."""
        return await _insert_once(self.fired, reminder_id, messages)

    async def forget_reminder(self, reminder_id: str) -> None:
        await self.reminders.delete_one({"_id": reminder_id})

    async def nudge_once(self, nudge_id: str, messages: list[Envelope]) -> list[Document]:
        return await _insert_once(self.nudges, nudge_id, messages)


async def _insert_once(
    collection: AsyncCollection[Document], doc_id: str, messages: list[Envelope]
) -> list[Document]:
    entries = outbox_entries(messages)
    try:
        await collection.insert_one({"_id": doc_id, "at": datetime.now(UTC), OUTBOX_FIELD: entries})
    except DuplicateKeyError:
        return []
    return entries


def strip(doc: Document) -> dict[str, Any]:
    """A stored document without the service's bookkeeping fields."""
    return {k: v for k, v in doc.items() if k not in (OUTBOX_FIELD, PROCESSED_FIELD)}
