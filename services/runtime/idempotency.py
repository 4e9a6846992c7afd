"""Idempotent writes with single-document atomicity only.

Redelivery is normal under at-least-once delivery. These helpers make a second delivery a
no-op without multi-document transactions, so they behave the same on MongoDB and on
Mongo-wire servers such as FerretDB:

- ``apply_once`` records the event id inside the very document it changes, in the same
  atomic update; the filter refuses a document that already holds the id.
- ``upsert_if_newer`` keeps the snapshot with the highest revision, whatever order
  snapshots arrive in (read models built from profile events use it).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

PROCESSED_FIELD = "_processed"
# Enough to cover any realistic redelivery window per document while keeping it small.
PROCESSED_KEEP = 500


class Outcome(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    MISSING = "missing"
    STALE = "stale"


async def apply_once(
    collection: AsyncCollection[dict[str, Any]],
    doc_id: Any,
    event_id: str,
    update: dict[str, Any],
    *,
    upsert: bool = True,
) -> Outcome:
    """Apply ``update`` to one document unless it already recorded ``event_id``.

    With ``upsert`` the document is created when missing. Without it, ``MISSING`` tells the
    caller the document does not exist (yet), so it can park or reject the event.
    """
    push = dict(update.get("$push", {}))
    push[PROCESSED_FIELD] = {"$each": [event_id], "$slice": -PROCESSED_KEEP}
    full_update = {**update, "$push": push}
    try:
        result = await collection.update_one(
            {"_id": doc_id, PROCESSED_FIELD: {"$ne": event_id}}, full_update, upsert=upsert
        )
    except DuplicateKeyError:
        # The upsert tried to insert because the filter did not match, and the _id exists:
        # the document is there and already holds this event id.
        return Outcome.DUPLICATE
    if result.matched_count or result.upserted_id is not None:
        return Outcome.APPLIED
    exists = await collection.count_documents({"_id": doc_id}, limit=1)
    return Outcome.DUPLICATE if exists else Outcome.MISSING


async def upsert_if_newer(
    collection: AsyncCollection[dict[str, Any]],
    doc_id: Any,
    revision: int,
    fields: dict[str, Any],
) -> Outcome:
    """Store ``fields`` with ``revision`` unless the stored revision is the same or newer."""
    try:
        result = await collection.update_one(
            {"_id": doc_id, "revision": {"$lt": revision}},
            {"$set": {**fields, "revision": revision}},
            upsert=True,
        )
    except DuplicateKeyError:
        return Outcome.STALE
    return Outcome.APPLIED if (result.matched_count or result.upserted_id is not None) else Outcome.STALE
