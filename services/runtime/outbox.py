"""A transactional outbox inside each aggregate's own document.

A handler that changes state and must publish follow-up messages writes both in one
atomic update: the new state, the cause's event id, and the outgoing messages under
``_outbox``. Only then does it publish, and after the broker acknowledged, it pulls the
entries out. If the process dies in between, the entries stay and are sent again by the
redelivered message's handler or by the sweep at start-up; consumers recognise the repeat
by its event id. So no follow-up is lost and none needs a multi-document transaction.

With tracing on, each entry keeps the ``traceparent`` of the handler that wrote it, so even a
message sent long after, by the recovery path, stays in the trace of the work that caused it.
"""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from contracts.catalogue import topic_of
from contracts.envelope import Envelope
from services.runtime.logging import get_logger
from services.runtime.publishing import MessagePublisher
from services.runtime.tracing import trace_headers

OUTBOX_FIELD = "_outbox"
log = get_logger(__name__)


def outbox_entries(messages: list[Envelope]) -> list[dict[str, Any]]:
    """Serialised messages, ready to be stored under ``_outbox``."""
    tracing = trace_headers()
    return [
        {
            "event_id": m.event_id,
            "topic": topic_of(type(m)).name,
            "key": m.subject,
            "headers": m.headers() | tracing,
            "value": m.model_dump_json(),
        }
        for m in messages
    ]


async def deliver(
    collection: AsyncCollection[dict[str, Any]],
    doc_id: Any,
    publisher: MessagePublisher,
    entries: list[dict[str, Any]] | None = None,
) -> int:
    """Publish outbox entries of a document, then remove them; returns the count.

    Pass ``entries`` when the caller has just written them (it saves a read); without them,
    whatever the document still holds is sent, which is what recovery after a crash needs.
    """
    if entries is None:
        doc = await collection.find_one({"_id": doc_id}, {OUTBOX_FIELD: 1})
        entries = (doc or {}).get(OUTBOX_FIELD) or []
    for entry in entries:
        await publisher.publish_raw(entry["topic"], entry["key"], entry["value"].encode(), _headers(entry))
    if entries:
        # Whole-element removal: Mongo-wire servers such as FerretDB match $pull conditions
        # only by equality, and entries added meanwhile by another write stay in place.
        await collection.update_one({"_id": doc_id}, {"$pullAll": {OUTBOX_FIELD: entries}})
    return len(entries)


def _headers(entry: dict[str, Any]) -> dict[str, str]:
    """Headers are stored as a document, or as a list of ``{name, value}`` when names contain
    dots (``dlq.reason``), which Mongo-wire servers refuse as field names."""
    stored = entry["headers"]
    if isinstance(stored, list):
        return {item["name"]: item["value"] for item in stored}
    return dict(stored)


async def sweep(collection: AsyncCollection[dict[str, Any]], publisher: MessagePublisher) -> int:
    """Deliver every outbox left behind by a process that stopped mid-way."""
    delivered = 0
    async for doc in collection.find({f"{OUTBOX_FIELD}.0": {"$exists": True}}, {"_id": 1}):
        delivered += await deliver(collection, doc["_id"], publisher)
    if delivered:
        log.info("outbox sweep delivered pending messages", collection=collection.name, count=delivered)
    return delivered
