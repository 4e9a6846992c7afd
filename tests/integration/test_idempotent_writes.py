"""The idempotency helpers on a real Mongo-wire server: a repeat changes nothing.

Every test runs both ways the kit writes conditionally: with the guard in the update's filter
(what MongoDB gets) and read first, then written by bare ``_id`` (what FerretDB gets). The test
server answers both correctly one message at a time, so one server checks both."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection

from services.runtime.idempotency import PROCESSED_FIELD, Outcome, apply_once, upsert_if_newer
from services.runtime.mongo import FilterSupport, assume_filter_support, filter_support, find_by_ids
from tests.support.infrastructure import Infrastructure


@pytest.fixture(params=list(FilterSupport), ids=lambda support: f"filters-{support}")
async def collection(
    infrastructure: Infrastructure, namespace: str, request: pytest.FixtureRequest
) -> AsyncIterator[AsyncCollection[Any]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infrastructure.mongo_url)
    assume_filter_support(client, request.param)
    yield client[namespace]["things"]
    await client.drop_database(namespace)
    await client.close()


async def test_the_same_event_applied_twice_counts_once(collection: AsyncCollection[Any]) -> None:
    first = await apply_once(collection, "mentor-1", "ev-1", {"$inc": {"load": 1}})
    again = await apply_once(collection, "mentor-1", "ev-1", {"$inc": {"load": 1}})
    other = await apply_once(collection, "mentor-1", "ev-2", {"$inc": {"load": 1}})
    doc = await collection.find_one({"_id": "mentor-1"})

    assert (first, again, other) == (Outcome.APPLIED, Outcome.DUPLICATE, Outcome.APPLIED)
    assert doc is not None
    assert doc["load"] == 2
    assert doc[PROCESSED_FIELD] == ["ev-1", "ev-2"]


async def test_an_event_for_a_missing_document_is_reported_when_upsert_is_off(
    collection: AsyncCollection[Any],
) -> None:
    outcome = await apply_once(collection, "nobody", "ev-1", {"$set": {"x": 1}}, upsert=False)
    assert outcome is Outcome.MISSING
    assert await collection.count_documents({}) == 0


async def test_a_snapshot_older_than_the_stored_one_is_ignored(collection: AsyncCollection[Any]) -> None:
    assert await upsert_if_newer(collection, "p1", 2, {"team": "data"}) is Outcome.APPLIED
    assert await upsert_if_newer(collection, "p1", 1, {"team": "payments"}) is Outcome.STALE
    assert await upsert_if_newer(collection, "p1", 2, {"team": "payments"}) is Outcome.STALE
    assert await upsert_if_newer(collection, "p1", 3, {"team": "mobile"}) is Outcome.APPLIED
    doc = await collection.find_one({"_id": "p1"})
    assert doc is not None
    assert (doc["team"], doc["revision"]) == ("mobile", 3)


async def test_an_event_for_an_existing_document_is_applied_when_upsert_is_off(
    collection: AsyncCollection[Any],
) -> None:
    await collection.insert_one({"_id": "s1", "state": "scheduled"})
    first = await apply_once(collection, "s1", "ev-1", {"$set": {"state": "cancelled"}}, upsert=False)
    again = await apply_once(collection, "s1", "ev-1", {"$set": {"state": "moved"}}, upsert=False)
    doc = await collection.find_one({"_id": "s1"})

    assert (first, again) == (Outcome.APPLIED, Outcome.DUPLICATE)
    assert doc is not None
    assert (doc["state"], doc[PROCESSED_FIELD]) == ("cancelled", ["ev-1"])


async def test_an_event_keeps_the_pushes_of_its_own_update_beside_its_id(
    collection: AsyncCollection[Any],
) -> None:
    await apply_once(collection, "s1", "ev-1", {"$push": {"_outbox": {"$each": [{"event_id": "out-1"}]}}})
    doc = await collection.find_one({"_id": "s1"})

    assert doc is not None
    assert (doc["_outbox"], doc[PROCESSED_FIELD]) == ([{"event_id": "out-1"}], ["ev-1"])


async def test_only_the_latest_processed_ids_are_kept(collection: AsyncCollection[Any]) -> None:
    for n in range(3):
        await apply_once(collection, "m1", f"ev-{n}", {"$inc": {"load": 1}})
    await collection.update_one({"_id": "m1"}, {"$set": {PROCESSED_FIELD: ["ev-1", "ev-2"]}})

    forgotten = await apply_once(collection, "m1", "ev-0", {"$inc": {"load": 1}})
    remembered = await apply_once(collection, "m1", "ev-2", {"$inc": {"load": 1}})
    doc = await collection.find_one({"_id": "m1"})

    assert (forgotten, remembered) == (Outcome.APPLIED, Outcome.DUPLICATE)
    assert doc is not None
    assert doc["load"] == 4


async def test_a_first_snapshot_creates_its_document_and_never_replaces_one_at_its_revision_or_newer(
    collection: AsyncCollection[Any],
) -> None:
    await collection.insert_one({"_id": "older", "team": "old", "revision": 0})
    await collection.insert_one({"_id": "same", "team": "kept", "revision": 1})

    assert await upsert_if_newer(collection, "new", 1, {"team": "data"}) is Outcome.APPLIED
    assert await upsert_if_newer(collection, "new", 1, {"team": "again"}) is Outcome.STALE
    assert await upsert_if_newer(collection, "older", 1, {"team": "data"}) is Outcome.APPLIED
    assert await upsert_if_newer(collection, "same", 1, {"team": "data"}) is Outcome.STALE
    teams = {doc["_id"]: (doc["team"], doc["revision"]) async for doc in collection.find({})}
    assert teams == {"new": ("data", 1), "older": ("data", 1), "same": ("kept", 1)}


async def test_a_snapshot_for_a_document_without_a_revision_is_stale(
    collection: AsyncCollection[Any],
) -> None:
    await collection.insert_one({"_id": "p1", "team": "imported"})

    assert await upsert_if_newer(collection, "p1", 5, {"team": "data"}) is Outcome.STALE
    assert await upsert_if_newer(collection, "p1", 1, {"team": "data"}) is Outcome.STALE
    doc = await collection.find_one({"_id": "p1"})
    assert doc is not None
    assert doc["team"] == "imported"


async def test_two_events_creating_one_document_at_once_both_count(collection: AsyncCollection[Any]) -> None:
    # Two, not more: FerretDB writes whole documents back, so two updates after the creation
    # could overwrite each other whatever the kit does (see services.runtime.idempotency).
    outcomes = await asyncio.gather(
        *(apply_once(collection, "mentor-9", f"ev-{n}", {"$inc": {"load": 1}}) for n in range(2))
    )
    doc = await collection.find_one({"_id": "mentor-9"})

    # The loser of the insert reads the winner's document and applies its own event to it.
    assert outcomes == [Outcome.APPLIED, Outcome.APPLIED]
    assert doc is not None
    assert (doc["load"], sorted(doc[PROCESSED_FIELD])) == (2, ["ev-0", "ev-1"])


async def test_documents_are_found_by_their_ids_whatever_the_server(collection: AsyncCollection[Any]) -> None:
    await collection.insert_many([{"_id": f"p{n}", "n": n} for n in range(5)])

    found = await find_by_ids(collection, ["p3", "p1", "p3", "nobody"], {"n": 1})

    assert sorted((doc["_id"], doc["n"]) for doc in found) == [("p1", 1), ("p3", 3)]
    assert await find_by_ids(collection, []) == []


async def test_the_server_is_recognised_by_what_it_answers(
    infrastructure: Infrastructure, namespace: str
) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infrastructure.mongo_url)
    try:
        info = await client.admin.command("buildInfo")
        support = await filter_support(client[namespace]["things"])
    finally:
        await client.close()

    # The local stack builds FerretDB with its patch; MongoDB (Docker) is MongoDB.
    assert support is (FilterSupport.ID_ANCHORED if "ferretdbVersion" in info else FilterSupport.FULL)
