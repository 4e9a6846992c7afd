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

    ``BARE_ID`` (FerretDB 1.x on SQLite as released): only a filter that is exactly ``{_id: <string or
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
    # FerretDB built with the local stack's patch (``deploy/local/stack.py``), which says so in
    # buildInfo's ``ferretdbFeatures``: a filter naming a string or ObjectId ``_id``, among other
    # conditions too, or an ``_id: {$in: [...]}`` of up to a thousand of them, is served from the
    # ``_id`` index. Conditional writes put the condition in the filter, as on MongoDB: one round
    # trip instead of a read and a write. FerretDB still does not make that condition atomic
    # with the write, exactly as a read followed by a write was not.
    ID_ANCHORED = "id_anchored"
    BARE_ID = "bare_id"

    @property
    def conditions_in_filter(self) -> bool:
        """Whether a conditional write by ``_id`` may carry its condition in the filter."""
        return self is not FilterSupport.BARE_ID


_filter_support: weakref.WeakKeyDictionary[AsyncMongoClient[Any], FilterSupport] = weakref.WeakKeyDictionary()


async def filter_support(collection: AsyncCollection[Document]) -> FilterSupport:
    """What the server behind ``collection`` does with filters; asked once per client."""
    client = collection.database.client
    known = _filter_support.get(client)
    if known is None:
        known = support_from_build_info(await client.admin.command("buildInfo"))
        _filter_support[client] = known
    return known


# What the local stack's FerretDB patch adds to buildInfo's ``ferretdbFeatures``.
ID_ANCHORED_FEATURE = "idAnchoredFilters"


def support_from_build_info(info: Document) -> FilterSupport:
    """FerretDB answers buildInfo with its own version beside the MongoDB one it emulates, and
    the local stack's build lists its patch among the features."""
    if "ferretdbVersion" not in info:
        return FilterSupport.FULL
    features = info.get("ferretdbFeatures") or {}
    return FilterSupport.ID_ANCHORED if features.get(ID_ANCHORED_FEATURE) is True else FilterSupport.BARE_ID


def assume_filter_support(client: AsyncMongoClient[Any], support: FilterSupport) -> None:
    """Treat the server behind ``client`` as ``support`` says (tests run the kit every way)."""
    _filter_support[client] = support


async def find_by_ids(
    collection: AsyncCollection[Document], ids: Iterable[Any], projection: Document | None = None
) -> list[Document]:
    """The documents with these ids (those that exist), in no particular order.

    ``{_id: {$in: ids}}`` queries of up to ``_IDS_PER_QUERY`` ids where the server serves them
    from the ``_id`` index, for any number of ids; one ``find_one({_id})`` per id, all at once,
    on an unpatched FerretDB, which reads the whole collection for an ``$in`` but goes straight
    to the row for a bare ``_id``: there it is meant for a handful of ids.
    """
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return []
    if (await filter_support(collection)).conditions_in_filter:
        found: list[Document] = []
        for start in range(0, len(wanted), _IDS_PER_QUERY):
            chunk = wanted[start : start + _IDS_PER_QUERY]
            found += await collection.find({"_id": {"$in": chunk}}, projection).to_list()
        return found
    singles = await asyncio.gather(*(collection.find_one({"_id": i}, projection) for i in wanted))
    return [doc for doc in singles if doc is not None]


# The patched FerretDB narrows an ``$in`` to its ids only up to this many (SQLite's limit on
# a statement's parameters is far above it; MongoDB has no such limit).
_IDS_PER_QUERY = 1000


def aware(moment: datetime) -> datetime:
    """A stored datetime as UTC: PyMongo hands them back naive unless the client is tz_aware."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
