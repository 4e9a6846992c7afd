"""One document per office-hours series or group session: its state, the ids of the commands it
has applied, and the outbox of the events they caused, all changed by one single-document update.

Why seat counts hold across replicas: every command about a series or a session is keyed by its
id, so all of them land on one partition, which one consumer of the group reads, in order. The
read-decide-write below therefore never races another writer of the same document. Each write is
also conditioned on the revision it read, which on MongoDB makes a writer that lost the race (a
partition handed over mid-message) decide again; FerretDB does not make conditional updates atomic
across connections, so that condition is a safety net there, not the guarantee. The partitioning is.
On FerretDB the condition is therefore left out of the write (see ``_commit``): that server pushes
only a bare ``{_id: X}`` filter down to SQLite and decodes every document for any other.

A redelivered command finds its id among the processed ones: nothing changes, and only what the
outbox still holds (a crash between write and publish) is sent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from contracts.envelope import Envelope, Payload
from services.runtime import outbox
from services.runtime.errors import UnprocessableMessage
from services.runtime.idempotency import PROCESSED_FIELD, PROCESSED_KEEP
from services.runtime.logging import get_logger
from services.runtime.mongo import Document, filter_support
from services.runtime.outbox import OUTBOX_FIELD, outbox_entries
from services.runtime.publishing import MessagePublisher

REVISION_FIELD = "revision"
# A lost race only happens while a partition changes hands; a few fresh reads settle it.
_ATTEMPTS = 5
log = get_logger(__name__)


@dataclass(frozen=True)
class Change:
    """What a command does to one document: fields to replace and events to send.

    Both may be empty (a refusal changes no state; a repeat changes nothing); the command is
    recorded as processed either way. ``note`` and ``details`` are logged once the change is
    written, so a decision that lost a race and was taken again is not logged twice. Details
    carry ids only, never names or addresses.
    """

    fields: Document = field(default_factory=dict)
    messages: list[Envelope] = field(default_factory=list)
    note: str | None = None
    details: dict[str, object] = field(default_factory=dict)


Decide = Callable[[Document], Awaitable[Change]]


class ChangedMeanwhile(RuntimeError):
    """The document kept changing under this handler; retrying the message settles it."""


def fingerprint(payload: Payload) -> str:
    """A digest of what a creating command said, to tell a harmless re-send from a change."""
    return hashlib.sha256(payload.model_dump_json().encode()).hexdigest()


async def create(
    collection: AsyncCollection[Document],
    doc: Document,
    cause: Envelope,
    messages: list[Envelope],
    publisher: MessagePublisher,
) -> Document | None:
    """Insert a new document with its first events and deliver them.

    Returns the document that already holds the id when another command made it (None when this
    command created it, now or before). A redelivery delivers what the outbox still holds, so
    events a crash held back still go out.
    """
    entries = outbox_entries(messages)
    try:
        await collection.insert_one(
            {**doc, REVISION_FIELD: 1, PROCESSED_FIELD: [cause.event_id], OUTBOX_FIELD: entries}
        )
    except DuplicateKeyError:
        existing = await collection.find_one({"_id": doc["_id"]}, {OUTBOX_FIELD: 0})
        if existing is None:
            # Gone between the insert and the read (nothing deletes these today): retry afresh.
            raise ChangedMeanwhile(f"{collection.name} {doc['_id']} vanished while being created") from None
        if cause.event_id not in existing.get(PROCESSED_FIELD, []):
            return existing
        await outbox.deliver(collection, doc["_id"], publisher)
        return None
    await outbox.deliver(collection, doc["_id"], publisher, entries or None)
    return None


async def apply(
    collection: AsyncCollection[Document],
    doc_id: str,
    cause: Envelope,
    decide: Decide,
    publisher: MessagePublisher,
    *,
    missing: str,
) -> None:
    """Apply a command to one document once: decide on its current state, write the change, the
    command's id and the events in one update, then deliver the events.

    ``missing`` is the reason given when the document does not exist: a command about something
    never published can never succeed, so it goes to the dead-letter topic.
    """
    for _ in range(_ATTEMPTS):
        doc = await collection.find_one({"_id": doc_id}, {OUTBOX_FIELD: 0})
        if doc is None:
            raise UnprocessableMessage(missing)
        if cause.event_id in doc.get(PROCESSED_FIELD, []):
            await outbox.deliver(collection, doc_id, publisher)
            return
        change = await decide(doc)
        entries = await _commit(collection, doc, cause.event_id, change)
        if entries is not None:
            if change.note:
                log.info(change.note, **change.details)
            await outbox.deliver(collection, doc_id, publisher, entries or None)
            return
    raise ChangedMeanwhile(f"{collection.name} {doc_id} changed during each of {_ATTEMPTS} attempts")


async def _commit(
    collection: AsyncCollection[Document], doc: Document, cause_id: str, change: Change
) -> list[Document] | None:
    """Write a decided change if the document is still as read; its outbox entries, or None."""
    entries = outbox_entries(change.messages)
    push: Document = {PROCESSED_FIELD: {"$each": [cause_id], "$slice": -PROCESSED_KEEP}}
    if entries:
        push[OUTBOX_FIELD] = {"$each": entries}
    update: dict[str, Any] = {"$inc": {REVISION_FIELD: 1}, "$push": push}
    if change.fields:
        update["$set"] = change.fields
    if (await filter_support(collection)).conditions_in_filter:
        guard: Document = {REVISION_FIELD: doc[REVISION_FIELD], PROCESSED_FIELD: {"$ne": cause_id}}
    else:
        # An unpatched FerretDB decodes the whole collection for any filter but a bare _id, and would not
        # make the guard atomic anyway: `apply` has just read this revision and found the
        # command unprocessed, and the partitioning keeps other writers out meanwhile.
        guard = {}
    result = await collection.update_one({"_id": doc["_id"], **guard}, update)
    return entries if result.modified_count else None
