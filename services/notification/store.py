"""The delivery log and its work queue, in notification's own database.

- ``deliveries``: one document per event, person and channel (its ``_id`` is the notification
  id). It is written *before* the first send and confirmed after each attempt, and it holds the
  rendered payload, so a retry or a deferred send is exactly what would have gone out first.
- ``attempts``: one claim per attempt number of a delivery (``<id>:<n>``). A unique insert is
  atomic on every Mongo-wire server, so with several instances sweeping, each attempt is made
  by one of them only.
- ``schedule``: the small set of deliveries waiting for a time (a retry, the end of quiet
  hours, a rate-limit slot, a digest). Sweeps read this instead of scanning the log.
- ``in_flight``: the small set of deliveries with an attempt under way (``_id`` is the
  notification id). Its entry is written *before* the delivery is marked ``sending`` and
  removed only after the attempt's outcome is recorded, so every ``sending`` delivery has one:
  the sweep finds attempts cut off by a crash here instead of scanning the log.
- ``parked``: notices for people whose profile has not arrived yet, and ``parked_people``: per
  person (``_id`` is the person id) the ids of their parked notices, so a profile event for
  someone with nothing waiting costs one lookup by ``_id``.

Filters on anything but ``_id`` read the whole collection on a Mongo-wire server such as
FerretDB; the log only grows, so no recurring work filters it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
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
    """Prepare the store at startup, before any message is handled."""
    await db["schedule"].create_index([("due_at", ASCENDING)])
    await db["in_flight"].create_index([("started_at", ASCENDING)])
    await db[DELIVERIES].create_index([("recipient_id", ASCENDING), ("created_at", ASCENDING)])
    await DeliveryLog(db).adopt_earlier_records()


def _stamp() -> str:
    return uuid.uuid4().hex


class DeliveryLog:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.deliveries: AsyncCollection[Document] = db[DELIVERIES]
        self.attempts: AsyncCollection[Document] = db["attempts"]
        self.schedule: AsyncCollection[Document] = db["schedule"]
        self.in_flight: AsyncCollection[Document] = db["in_flight"]
        self.parked: AsyncCollection[Document] = db["parked"]
        self.parked_people: AsyncCollection[Document] = db["parked_people"]

    async def adopt_earlier_records(self) -> None:
        """Index what was written before ``in_flight`` and ``parked_people`` existed: attempts
        under way and parked notices. Run at every start (one read of each collection), so
        records an older version wrote during a rolling upgrade are adopted at the next start."""
        fields = {"attempts": 1, "attempt_started_at": 1}
        async for doc in self.deliveries.find({"state": DeliveryState.SENDING}, fields):
            entry = {"attempt": doc["attempts"], "started_at": doc["attempt_started_at"], "stamp": _stamp()}
            await self.in_flight.update_one({"_id": doc["_id"]}, {"$setOnInsert": entry}, upsert=True)
        async for doc in self.parked.find({}, {"recipient_id": 1}):
            await self._list_parked(doc["recipient_id"], doc["_id"])

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

    # ------------------------------------------------------------ attempts under way

    # Every write to an entry gives it a new ``stamp``; whoever removes an entry it has read
    # names that stamp, so an entry written again meanwhile (a new attempt) is left alone.

    async def start_attempt(self, notification_id: str, attempt: int, now: datetime) -> None:
        """Note attempt ``attempt`` as under way, replacing the entry of any earlier attempt;
        call it *before* marking the delivery ``sending``."""
        entry = {"attempt": attempt, "started_at": now, "stamp": _stamp()}
        await self.in_flight.update_one({"_id": notification_id}, {"$set": entry}, upsert=True)

    async def start_first_attempt(self, notification_id: str, now: datetime) -> str | None:
        """``start_attempt`` for the attempt made as a delivery is opened. An entry already
        there keeps its attempt and time: the delivery exists then (the event was redelivered)
        and the entry belongs to whatever is really under way. Returns the stamp when this call
        wrote the entry, for ``drop_in_flight`` should the delivery turn out to exist."""
        stamp = _stamp()
        written = await self.in_flight.update_one(
            {"_id": notification_id},
            {"$set": {"stamp": stamp}, "$setOnInsert": {"attempt": 1, "started_at": now}},
            upsert=True,
        )
        return stamp if written.upserted_id is not None else None

    async def attempt_over(self, notification_id: str, attempt: int) -> None:
        """Attempt ``attempt``'s outcome is recorded: it is no longer under way. An entry a
        later attempt has written meanwhile stays."""
        await self.in_flight.delete_one({"_id": notification_id, "attempt": attempt})

    async def drop_in_flight(self, notification_id: str, stamp: str) -> None:
        """Remove an entry found to be stale, unless it was written again since it was read."""
        await self.in_flight.delete_one({"_id": notification_id, "stamp": stamp})

    async def in_flight_since_before(self, cutoff: datetime, limit: int = 500) -> list[Document]:
        """Entries of attempts started before ``cutoff``: each one's delivery is still sending
        (cut off, or a later attempt is under way) or its outcome was recorded just before a
        stop left the entry behind."""
        cursor = self.in_flight.find({"started_at": {"$lt": cutoff}}, limit=limit)
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
        # Listed first: a notice is never parked where its person's profile would not look.
        await self._list_parked(doc["recipient_id"], doc["_id"])
        with contextlib.suppress(DuplicateKeyError):  # parked by an earlier delivery of the event
            await self.parked.insert_one(doc)

    async def _list_parked(self, recipient_id: str, parked_id: str) -> None:
        await self.parked_people.update_one(
            {"_id": recipient_id}, {"$addToSet": {"notices": parked_id}}, upsert=True
        )

    async def parked_for(self, recipient_id: str) -> list[Document]:
        """The person's parked notices, oldest first: lookups by ``_id`` only."""
        listed = await self.parked_people.find_one({"_id": recipient_id})
        found = []
        for parked_id in (listed or {}).get("notices", []):
            # None for an id listed by a park a stop cut short (or one being parked right now).
            if (doc := await self.parked.find_one({"_id": parked_id})) is not None:
                found.append(doc)
        return sorted(found, key=lambda doc: doc["parked_at"])

    async def unpark(self, doc: Document) -> None:
        """Done with a parked notice (it was delivered); safe to repeat."""
        recipient_id = doc["recipient_id"]
        # Unlisted first: a stop in between leaves the notice unlisted until the next start
        # lists it again, and delivering it once more finds its deliveries already in the log.
        await self.parked_people.update_one({"_id": recipient_id}, {"$pull": {"notices": doc["_id"]}})
        await self.parked.delete_one({"_id": doc["_id"]})
        await self.parked_people.delete_one({"_id": recipient_id, "notices": {"$size": 0}})
