"""The delivery log and its work queue, in notification's own database.

- ``deliveries``: one document per event, person and channel (its ``_id`` is the notification
  id). It is written *before* the first send and confirmed after each attempt, and it holds the
  rendered payload, so a retry or a deferred send is exactly what would have gone out first.
- ``attempts``: one claim per attempt number of a delivery (``<id>:<n>``). A unique insert is
  atomic on every Mongo-wire server, so with several instances sweeping, each attempt is made
  by one of them only.
- ``schedule``: the small set of deliveries waiting for a time (a retry, the end of quiet
  hours, a rate-limit slot, a digest). Sweeps read this instead of scanning the log.
- ``parked``: notices for people whose profile has not arrived yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConnectionFailure, DuplicateKeyError

from services.runtime.mongo import Document
from services.runtime.outbox import OUTBOX_FIELD

DELIVERIES = "deliveries"


class DeliveryState:
    DUE = "due"  # waiting for its time (see ``schedule``)
    SENDING = "sending"  # an attempt started; its outcome is not recorded yet
    SENT = "sent"
    FAILED = "failed"
    IN_DOUBT = "in_doubt"  # an attempt was cut off mid-send and is not resent
    SKIPPED = "skipped"  # the person gave no address for this channel
    QUEUED_FOR_DIGEST = "queued_for_digest"
    DIGESTED = "digested"

    FINAL = frozenset({SENT, FAILED, IN_DOUBT, SKIPPED, DIGESTED})


async def ensure_indexes(db: AsyncDatabase[Document]) -> None:
    await db["schedule"].create_index([("due_at", ASCENDING)])
    await db["parked"].create_index([("recipient_id", ASCENDING)])
    await db[DELIVERIES].create_index([("recipient_id", ASCENDING), ("created_at", ASCENDING)])


class DeliveryLog:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.deliveries: AsyncCollection[Document] = db[DELIVERIES]
        self.attempts: AsyncCollection[Document] = db["attempts"]
        self.schedule: AsyncCollection[Document] = db["schedule"]
        self.parked: AsyncCollection[Document] = db["parked"]

    # ------------------------------------------------------------ the log

    async def open(self, doc: Document) -> Document | None:
        """Write a new delivery; None when written, else the delivery already on record."""
        try:
            await self.deliveries.insert_one(doc)
        except DuplicateKeyError:
            return await self.deliveries.find_one({"_id": doc["_id"]})
        return None

    async def get(self, notification_id: str) -> Document | None:
        return await self.deliveries.find_one({"_id": notification_id})

    async def update(
        self, notification_id: str, fields: Mapping[str, Any], outbox: list[dict[str, Any]] | None = None
    ) -> None:
        change: dict[str, Any] = {"$set": dict(fields)}
        if outbox:
            change["$push"] = {OUTBOX_FIELD: {"$each": outbox}}
        await self.deliveries.update_one({"_id": notification_id}, change)

    async def confirm(
        self,
        notification_id: str,
        fields: Mapping[str, Any],
        outbox: list[dict[str, Any]] | None = None,
        *,
        patience: float,
    ) -> None:
        """``update`` for an outcome that already happened outside, such as a message the
        provider accepted. A database that is away for a moment must not leave that attempt
        looking cut off (it would be reported failed, or sent twice), so a lost connection is
        retried for up to ``patience`` seconds before the error is let through."""
        deadline = time.monotonic() + patience
        delay = 0.2
        while True:
            try:
                await self.update(notification_id, fields, outbox)
                return
            except ConnectionFailure:
                if time.monotonic() + delay > deadline:
                    raise
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def claim_attempt(self, notification_id: str, attempt: int, now: datetime) -> bool:
        """True for the one caller that may make attempt number ``attempt``."""
        try:
            await self.attempts.insert_one({"_id": f"{notification_id}:{attempt}", "started_at": now})
        except DuplicateKeyError:
            return False
        return True

    async def attempt_started_at(self, notification_id: str, attempt: int) -> datetime | None:
        doc = await self.attempts.find_one({"_id": f"{notification_id}:{attempt}"})
        return doc["started_at"] if doc else None

    async def sending_before(self, cutoff: datetime, limit: int = 500) -> list[Document]:
        """Attempts started before ``cutoff`` whose outcome was never recorded."""
        cursor = self.deliveries.find(
            {"state": DeliveryState.SENDING, "attempt_started_at": {"$lt": cutoff}}, limit=limit
        )
        return [doc async for doc in cursor]

    async def queued_for_digest(self, recipient_id: str, digest_at: datetime) -> list[Document]:
        cursor = self.deliveries.find(
            {"recipient_id": recipient_id, "state": DeliveryState.QUEUED_FOR_DIGEST, "digest_at": digest_at}
        ).sort("created_at", ASCENDING)
        return [doc async for doc in cursor]

    # ------------------------------------------------------------ what waits for a time

    async def wait_until(self, entry_id: str, due_at: datetime, kind: str = "attempt", **fields: Any) -> None:
        """Put an entry on the schedule (or move it): an attempt of a delivery, or a digest."""
        await self.schedule.replace_one(
            {"_id": entry_id}, {"_id": entry_id, "due_at": due_at, "kind": kind, **fields}, upsert=True
        )

    async def done_waiting(self, notification_id: str) -> None:
        await self.schedule.delete_one({"_id": notification_id})

    async def due(self, now: datetime, limit: int) -> list[Document]:
        cursor = self.schedule.find({"due_at": {"$lte": now}}).sort("due_at", ASCENDING).limit(limit)
        return [doc async for doc in cursor]

    async def waiting(self) -> int:
        return await self.schedule.count_documents({})

    # ------------------------------------------------------------ notices for unknown people

    async def park(self, doc: Document) -> None:
        with contextlib.suppress(DuplicateKeyError):  # parked by an earlier delivery of the event
            await self.parked.insert_one(doc)

    async def parked_for(self, recipient_id: str) -> list[Document]:
        return [doc async for doc in self.parked.find({"recipient_id": recipient_id})]

    async def unpark(self, parked_id: str) -> None:
        await self.parked.delete_one({"_id": parked_id})
