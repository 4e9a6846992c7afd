"""The service's own MongoDB database: opened in the lifespan, indexes ensured at start, and
what the server behind it makes cheap and atomic."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from services.runtime.settings import ServiceSettings

Document = dict[str, Any]
IndexSetup = Callable[[AsyncDatabase[Document]], Awaitable[None]]


def open_client(settings: ServiceSettings) -> AsyncMongoClient[Document]:
    """A client for the configured server; it connects lazily on first use."""
    return AsyncMongoClient(
        settings.mongo.url.get_secret_value(),
        serverSelectionTimeoutMS=settings.mongo.server_selection_timeout_ms,
        appname=settings.client_id,
        tz_aware=True,
        **settings.mongo.client_options(),  # type: ignore[arg-type]
    )


async def ping(client: AsyncMongoClient[Document]) -> bool:
    try:
        await client.admin.command("ping")
    except Exception:  # noqa: BLE001 - any failure means not ready
        return False
    return True


class FilterSupport(StrEnum):
    """What the server makes of a filter, and so how to write conditionally and look up by id.

    ``FULL`` (MongoDB): a filter is served by indexes, and a condition in an update's filter
    (``{_id: X, revision: {$lt: n}}``) is evaluated atomically with the write, so the guard holds
    against a concurrent writer too. Conditional writes put the condition in the filter.

    ``BARE_ID`` (FerretDB 1.x on SQLite): only a filter that is exactly ``{_id: <string or
    ObjectId>}`` is pushed down to SQL; any other filter, ``{_id: {$in: [...]}}`` or
    ``{_id: {$eq: X}}`` included, decodes every document of the collection in Go (0.1 to 0.2 s
    per update at a thousand documents, 4 to 6 s at twenty thousand, where the same update by bare
    ``_id`` takes 2 to 6 ms on the local stack's FerretDB: ``tests/benchmarks/mongo_write_paths.py``).
    Conditional writes read by ``_id``, decide in Python and write by bare ``_id``. Nothing is
    lost by taking the condition out of the filter: FerretDB runs every update as a read, a change
    in Go and a whole-document ``UPDATE ... WHERE _id = ?`` without a transaction around the read,
    so a condition in the filter was never atomic there (``services/runtime/claims.py`` has the
    measurement).
    """

    FULL = "full"
    BARE_ID = "bare_id"


_filter_support: weakref.WeakKeyDictionary[AsyncMongoClient[Any], FilterSupport] = weakref.WeakKeyDictionary()


async def filter_support(collection: AsyncCollection[Document]) -> FilterSupport:
    """What the server behind ``collection`` does with filters; asked once per client."""
    client = collection.database.client
    known = _filter_support.get(client)
    if known is None:
        # FerretDB answers buildInfo with its own version beside the MongoDB one it emulates.
        info = await client.admin.command("buildInfo")
        known = FilterSupport.BARE_ID if "ferretdbVersion" in info else FilterSupport.FULL
        _filter_support[client] = known
    return known


def assume_filter_support(client: AsyncMongoClient[Any], support: FilterSupport) -> None:
    """Treat the server behind ``client`` as ``support`` says (tests run the kit both ways)."""
    _filter_support[client] = support


async def find_by_ids(
    collection: AsyncCollection[Document], ids: Iterable[Any], projection: Document | None = None
) -> list[Document]:
    """The documents with these ids (those that exist), in no particular order.

    One ``{_id: {$in: ids}}`` query where the server serves it from the ``_id`` index; one
    ``find_one({_id})`` per id, all at once, on FerretDB, which reads the whole collection for
    an ``$in`` but goes straight to the row for a bare ``_id``. Meant for a handful of ids.
    """
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return []
    if await filter_support(collection) is FilterSupport.FULL:
        return await collection.find({"_id": {"$in": wanted}}, projection).to_list()
    found = await asyncio.gather(*(collection.find_one({"_id": i}, projection) for i in wanted))
    return [doc for doc in found if doc is not None]


def aware(moment: datetime) -> datetime:
    """A stored datetime as UTC: PyMongo hands them back naive unless the client is tz_aware."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
