"""The idempotency helpers on a real Mongo-wire server: a repeat changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection

from services.runtime.idempotency import PROCESSED_FIELD, Outcome, apply_once, upsert_if_newer
from tests.support.infrastructure import Infrastructure


@pytest.fixture
async def collection(infrastructure: Infrastructure, namespace: str) -> AsyncIterator[AsyncCollection[Any]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infrastructure.mongo_url)
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
