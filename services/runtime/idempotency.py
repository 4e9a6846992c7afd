"""Idempotent writes with single-document atomicity only.

Redelivery is normal under at-least-once delivery. These helpers make a second delivery a
no-op without multi-document transactions, so they behave the same on MongoDB and on
Mongo-wire servers such as FerretDB:

- ``apply_once`` records the event id inside the very document it changes, in the same
  update; a document that already holds the id is left alone.
- ``upsert_if_newer`` keeps the snapshot with the highest revision, whatever order
  snapshots arrive in (read models built from profile events use it).

Each helper has two ways to the same result, chosen per server (``services.runtime.mongo``):

- on MongoDB the guard is in the update's filter, so it is atomic with the write and served by
  the ``_id`` index: two consumers handling the same event at once (a partition handed over
  mid-message) apply it once;
- on FerretDB 1.x (SQLite) the document is read by ``_id``, the guard is checked here, and the
  write's filter is the bare ``_id``. That server pushes only a bare ``{_id: X}`` filter down to
  SQL; a guard in the filter made it decode the whole collection for every write (measured with
  ``tests/benchmarks/mongo_write_paths.py``: 0.2 s against 3 ms for read-then-write at 1,000
  documents, 6 s against 3 ms at 20,000).
  A first snapshot (revision 1) is inserted in one write there instead: only when a document
  with that id exists already is it read and compared (a roll-out's snapshots are all first
  ones, and each of four services keeps a read model of them).

Why the second way loses nothing on FerretDB. FerretDB runs every update as a read, a change in
Go and a whole-document ``UPDATE ... WHERE _id = ?``, with no transaction around the read, so a
guard in the filter was never atomic there. What the guards protect against, and who could race:

- the same event twice (``apply_once``) or an older snapshot after a newer one
  (``upsert_if_newer``): these are messages with the same key (the event's own, or the person's),
  so one partition carries them, in order, to one consumer at a time. Only a rebalance that hands
  the partition over mid-message lets two consumers race, and then FerretDB let both through
  before as it may now; the window grows from FerretDB's read-to-write gap to one round trip;
- messages of different keys touching the same document: their event ids differ, so no guard
  ever held either back. Done at the same moment they can lose one of the two changes on
  FerretDB, with a guard in the filter or without (its write-back is of the whole document);
  that is the server's limit, which ``services/runtime/claims.py`` works around where an
  invariant depends on it.

Both ways settle the race of two events creating the same document: the loser's insert fails
with a duplicate key, the loser reads the winner's document, and applies its event to it unless
the event is already there (before, the guard in the filter took every duplicate key for a repeat
and dropped the event).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from services.runtime.mongo import filter_support

PROCESSED_FIELD = "_processed"
# Enough to cover any realistic redelivery window per document while keeping it small.
PROCESSED_KEEP = 500
REVISION_FIELD = "revision"
# Snapshots count their revisions from here (contracts.profile: revision >= 1).
FIRST_REVISION = 1
# A duplicate key on an upsert by bare _id means another writer created the document between
# our read and our write; one more read settles it. More than a few in a row is something else.
_CREATE_ATTEMPTS = 3


class Outcome(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    MISSING = "missing"
    STALE = "stale"


def with_event_id(update: dict[str, Any], event_id: str) -> dict[str, Any]:
    """``update`` that also records ``event_id`` among the document's last processed ones."""
    push = dict(update.get("$push", {}))
    push[PROCESSED_FIELD] = {"$each": [event_id], "$slice": -PROCESSED_KEEP}
    return {**update, "$push": push}


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
    full_update = with_event_id(update, event_id)
    if (await filter_support(collection)).conditions_in_filter:
        return await _apply_once_in_filter(collection, doc_id, event_id, full_update, upsert)
    for attempt in range(_CREATE_ATTEMPTS):
        doc = await collection.find_one({"_id": doc_id}, {PROCESSED_FIELD: 1})
        if doc is None and not upsert:
            return Outcome.MISSING
        if doc is not None and event_id in (doc.get(PROCESSED_FIELD) or []):
            return Outcome.DUPLICATE
        try:
            result = await collection.update_one({"_id": doc_id}, full_update, upsert=upsert and doc is None)
        except DuplicateKeyError:
            if doc is None and attempt < _CREATE_ATTEMPTS - 1:
                continue  # created meanwhile: decide again on what the other writer made
            raise
        if result.matched_count or result.upserted_id is not None:
            return Outcome.APPLIED
        # Deleted between the read and the write: read again, as if it had never been there.
    return Outcome.MISSING  # deleted under us on every attempt


async def _apply_once_in_filter(
    collection: AsyncCollection[dict[str, Any]],
    doc_id: Any,
    event_id: str,
    full_update: dict[str, Any],
    upsert: bool,
) -> Outcome:
    for attempt in range(_CREATE_ATTEMPTS):
        try:
            result = await collection.update_one(
                {"_id": doc_id, PROCESSED_FIELD: {"$ne": event_id}}, full_update, upsert=upsert
            )
        except DuplicateKeyError:
            # The upsert tried to insert because the filter did not match, and the _id exists:
            # either the document holds this event id, or another event created it just now.
            doc = await collection.find_one({"_id": doc_id}, {PROCESSED_FIELD: 1})
            if doc is not None and event_id not in (doc.get(PROCESSED_FIELD) or []):
                if attempt < _CREATE_ATTEMPTS - 1:
                    continue
                raise
            return Outcome.DUPLICATE
        if result.matched_count or result.upserted_id is not None:
            return Outcome.APPLIED
        exists = await collection.count_documents({"_id": doc_id}, limit=1)
        return Outcome.DUPLICATE if exists else Outcome.MISSING
    raise AssertionError("unreachable: the last attempt returns or raises")


async def upsert_if_newer(
    collection: AsyncCollection[dict[str, Any]],
    doc_id: Any,
    revision: int,
    fields: dict[str, Any],
) -> Outcome:
    """Store ``fields`` with ``revision`` unless the stored revision is the same or newer."""
    update = {"$set": {**fields, REVISION_FIELD: revision}}
    if (await filter_support(collection)).conditions_in_filter:
        try:
            result = await collection.update_one(
                {"_id": doc_id, REVISION_FIELD: {"$lt": revision}}, update, upsert=True
            )
        except DuplicateKeyError:
            return Outcome.STALE
        return Outcome.APPLIED if (result.matched_count or result.upserted_id is not None) else Outcome.STALE
    if revision == FIRST_REVISION and not any("." in name for name in fields):
        # A first snapshot nearly always creates its document (a roll-out is all first
        # snapshots): insert it in one write, and read only when a document is there already.
        try:
            await collection.insert_one({"_id": doc_id, **fields, REVISION_FIELD: revision})
        except DuplicateKeyError:
            pass
        else:
            return Outcome.APPLIED
    for attempt in range(_CREATE_ATTEMPTS):
        doc = await collection.find_one({"_id": doc_id}, {REVISION_FIELD: 1})
        if doc is not None and not _older(doc.get(REVISION_FIELD), revision):
            return Outcome.STALE
        try:
            # Upsert even when the read found the document: deleted meanwhile, it comes back.
            await collection.update_one({"_id": doc_id}, update, upsert=True)
        except DuplicateKeyError:
            if doc is None and attempt < _CREATE_ATTEMPTS - 1:
                continue  # created meanwhile by another snapshot: compare with that one
            raise
        return Outcome.APPLIED
    return Outcome.STALE  # pragma: no cover - the loop returns or raises on its last attempt


def _older(stored: Any, revision: int) -> bool:
    """``{revision: {$lt: revision}}`` as MongoDB reads it: a missing or non-numeric stored
    revision never matches, so such a document is never overwritten (as with the filter)."""
    return isinstance(stored, int | float) and not isinstance(stored, bool) and stored < revision
