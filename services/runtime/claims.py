"""Exclusive claims through unique keys: the one concurrency primitive that holds everywhere.

Conditional updates (``update_one`` with a filter on the current value) are atomic on
MongoDB, but not on every Mongo-wire server: measured on FerretDB 1.24 with its SQLite
backend, 40 concurrent ``{free: {$gt: 0}} → $inc free -1`` updates on a document with
``free: 3`` all reported success. An insert into a unique key is atomic on both (the storage
engine enforces the index), so invariants that must hold across replicas, such as a mentor's
capacity or one active person per work email, are built from claims:

- a claim is a document whose ``_id`` is the contended key and whose ``owner`` says who
  holds it; inserting it either succeeds (the claim is yours) or fails with a duplicate key;
- claiming again with the same owner is a no-op success, so a redelivered message that
  already holds its claim carries on;
- a bounded resource (N seats) is N keys, ``<resource>:0`` to ``<resource>:N-1``.
"""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

Collection = AsyncCollection[dict[str, Any]]


async def ensure_claim_indexes(collection: Collection) -> None:
    """One claim per owner at most within a collection (a match holds one seat, not two)."""
    await collection.create_index([("owner", 1)], unique=True)


async def claim(collection: Collection, key: str, owner: str) -> bool:
    """Take ``key`` for ``owner``; True when the owner holds it (now or already)."""
    try:
        await collection.insert_one({"_id": key, "owner": owner})
    except DuplicateKeyError:
        holder = await collection.find_one({"_id": key}, {"owner": 1})
        return holder is not None and holder["owner"] == owner
    return True


async def release(collection: Collection, key: str, owner: str) -> bool:
    """Give ``key`` back, only if ``owner`` holds it; True when something was released."""
    result = await collection.delete_one({"_id": key, "owner": owner})
    return result.deleted_count == 1


async def claim_one_of(
    collection: Collection, resource: str, slots: int, owner: str, *, first_slot: int = 0
) -> str | None:
    """Take any free slot of a resource with ``slots`` seats; the key taken, or None when full.
    Slots are tried from ``first_slot`` on, then from 0: a caller who knows how many are
    taken starts past them instead of meeting each one.

    An owner that already holds a seat keeps it and never takes a second: the unique owner
    index refuses the insert, and the seat it holds is then looked up and returned (None
    when it is another resource's).
    """
    start = min(max(first_slot, 0), slots)
    for slot in (*range(start, slots), *range(start)):
        key = f"{resource}:{slot}"
        try:
            await collection.insert_one({"_id": key, "owner": owner})
        except DuplicateKeyError:
            # The seat is taken, or this owner holds one already (the owner index): in the
            # second case that seat stands.
            held = await _key_of(collection, owner)
            if held is not None:
                return held if held.startswith(f"{resource}:") else None
            continue
        return key
    return None


async def _key_of(collection: Collection, owner: str) -> str | None:
    held = await collection.find_one({"owner": owner}, {"_id": 1})
    return str(held["_id"]) if held else None
