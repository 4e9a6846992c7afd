"""How long each way of writing one document takes, by collection size, on the Mongo-wire server.

    python -m tests.benchmarks.mongo_write_paths [--sizes 1000 5000 20000] [--ops 40] [--mongo-url URL]

Why this exists: FerretDB 1.x with its SQLite backend pushes a filter down to SQL only when it is
exactly ``{_id: <string or ObjectId>}`` (``internal/backends/sqlite/collection.go``, ``Query``);
any other filter, ``{_id: X, revision: {$lt: n}}`` included, reads and decodes every document of
the collection and filters them in Go. This script times the runtime kit's conditional writes
beside the alternatives, on the same documents, interleaved op by op so that a noisy machine
slows every approach alike, and prints the median milliseconds per approach and size.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from random import Random
from typing import Any

from pymongo import AsyncMongoClient, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

Collection = AsyncCollection[dict[str, Any]]
Op = Callable[[Collection, Collection, str, int], Awaitable[None]]


def _document(doc_id: str, rng: Random) -> dict[str, Any]:
    """About the shape of a read-model person or a session: a few fields, a list, processed ids."""
    return {
        "_id": doc_id,
        "revision": 1,
        "time_zone": rng.choice(["Europe/Berlin", "America/New_York", "Asia/Tokyo", "UTC"]),
        "availability": [{"weekday": d, "start": "09:00", "end": "17:00"} for d in range(rng.randint(3, 5))],
        "email": f"{doc_id}@example.com",
        "name": f"Person {doc_id}",
        "active": True,
        "_processed": [uuid.uuid4().hex for _ in range(5)],
    }


# Each operation touches the document ``doc_id`` as event number ``n`` (a fresh event id and a
# newer revision each time), so every conditional write really applies.


async def compound_ne(c: Collection, _: Collection, doc_id: str, n: int) -> None:
    """The kit's ``apply_once`` today: the event id guard in the filter."""
    event = f"e{n}"
    await c.update_one(
        {"_id": doc_id, "_processed": {"$ne": event}},
        {"$set": {"x": n}, "$push": {"_processed": {"$each": [event], "$slice": -500}}},
        upsert=True,
    )


async def compound_lt(c: Collection, _: Collection, doc_id: str, n: int) -> None:
    """The kit's ``upsert_if_newer`` today: the revision guard in the filter."""
    guard = {"_id": doc_id, "revision": {"$lt": n}}
    await c.update_one(guard, {"$set": {"x": n, "revision": n}}, upsert=True)


async def compound_eq_version(c: Collection, _: Collection, doc_id: str, n: int) -> None:
    """A compare-and-set on an exact version: ``{_id: X, v: n}`` (equality, still two keys)."""
    doc = await c.find_one({"_id": doc_id}, {"v": 1})
    assert doc is not None
    await c.update_one({"_id": doc_id, "v": doc.get("v", 0)}, {"$set": {"x": n, "v": doc.get("v", 0) + 1}})


async def pure_id(c: Collection, _: Collection, doc_id: str, n: int) -> None:
    """No guard at all: the lower bound of any write."""
    await c.update_one({"_id": doc_id}, {"$set": {"x": n}}, upsert=True)


async def pure_id_eq(c: Collection, _: Collection, doc_id: str, n: int) -> None:
    """No guard, ``_id`` spelt with ``$eq`` (FerretDB only pushes down the bare value)."""
    await c.update_one({"_id": {"$eq": doc_id}}, {"$set": {"x": n}}, upsert=True)


async def read_then_write(c: Collection, _: Collection, doc_id: str, n: int) -> None:
    """Read by ``_id``, decide in Python, write by ``_id``: two round trips, both pushed down."""
    event = f"e{n}"
    doc = await c.find_one({"_id": doc_id}, {"_processed": 1, "revision": 1})
    if doc is not None and event in doc.get("_processed", []):
        return
    await c.update_one(
        {"_id": doc_id},
        {"$set": {"x": n}, "$push": {"_processed": {"$each": [event], "$slice": -500}}},
        upsert=True,
    )


async def find_and_modify(c: Collection, _: Collection, doc_id: str, n: int) -> None:
    """One round trip, pure ``_id``: the document before the change comes back."""
    await c.find_one_and_update(
        {"_id": doc_id}, {"$set": {"x": n}}, upsert=True, return_document=ReturnDocument.BEFORE
    )


async def find_and_modify_compound(c: Collection, _: Collection, doc_id: str, n: int) -> None:
    event = f"e{n}"
    await c.find_one_and_update(
        {"_id": doc_id, "_processed": {"$ne": event}},
        {"$set": {"x": n}, "$push": {"_processed": {"$each": [event], "$slice": -500}}},
    )


async def read_then_replace(c: Collection, _: Collection, doc_id: str, n: int) -> None:
    """Read the whole document, change it in Python, put it back whole."""
    doc = await c.find_one({"_id": doc_id})
    assert doc is not None
    doc["x"] = n
    await c.replace_one({"_id": doc_id}, doc, upsert=True)


async def claim_then_write(c: Collection, processed: Collection, doc_id: str, n: int) -> None:
    """Dedup by a unique insert into a processed-events collection, then a pure ``_id`` write."""
    try:
        await processed.insert_one({"_id": f"{doc_id}:e{n}"})
    except DuplicateKeyError:
        return
    await c.update_one({"_id": doc_id}, {"$set": {"x": n}}, upsert=True)


async def find_in_two(c: Collection, _: Collection, doc_id: str, n: int) -> None:
    """Scheduling's people lookup today: ``{_id: {$in: [a, b]}}`` for a pair."""
    await c.find({"_id": {"$in": [doc_id, f"d{n % 7}"]}}).to_list()


async def find_two_by_id(c: Collection, _: Collection, doc_id: str, n: int) -> None:
    """The same pair as two concurrent ``find_one({_id})``."""
    await asyncio.gather(c.find_one({"_id": doc_id}), c.find_one({"_id": f"d{n % 7}"}))


async def count_by_id(c: Collection, _: Collection, doc_id: str, n: int) -> None:
    await c.count_documents({"_id": doc_id}, limit=1)


APPROACHES: dict[str, Op] = {
    "update {_id, _processed: {$ne}} (apply_once now)": compound_ne,
    "update {_id, revision: {$lt}} (upsert_if_newer now)": compound_lt,
    "read + update {_id, v: n} (CAS)": compound_eq_version,
    "update {_id} (no guard)": pure_id,
    "update {_id: {$eq}} (no guard)": pure_id_eq,
    "read {_id} + decide + update {_id}": read_then_write,
    "find_one_and_update {_id}": find_and_modify,
    "find_one_and_update {_id, $ne}": find_and_modify_compound,
    "read {_id} + replace_one {_id}": read_then_replace,
    "insert claim + update {_id}": claim_then_write,
    "find {_id: {$in: [a, b]}}": find_in_two,
    "2 x find_one {_id} (gathered)": find_two_by_id,
    "count_documents {_id}": count_by_id,
}


async def measure(url: str, sizes: list[int], ops: int) -> dict[str, dict[int, float]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url, serverSelectionTimeoutMS=5000)
    db = client[f"bench_writes_{uuid.uuid4().hex[:8]}"]
    medians: dict[str, dict[int, float]] = {name: {} for name in APPROACHES}
    rng = Random(11)
    try:
        collection, processed = db["docs"], db["processed"]
        have = 0
        for size in sorted(sizes):
            # Grow the same collection from one size to the next: the inserts dominate otherwise.
            batch = [_document(f"d{i}", rng) for i in range(have, size)]
            for start in range(0, len(batch), 1000):
                await collection.insert_many(batch[start : start + 1000], ordered=False)
            have = size
            timings: dict[str, list[float]] = {name: [] for name in APPROACHES}
            for n in range(ops):
                doc_id = f"d{rng.randrange(size)}"
                event = size * 1000 + n + 2
                # Interleaved: every approach sees the same moment of machine noise.
                for name, op in APPROACHES.items():
                    started = time.perf_counter()
                    await op(collection, processed, doc_id, event)
                    timings[name].append((time.perf_counter() - started) * 1000)
            for name, values in timings.items():
                medians[name][size] = statistics.median(values)
            print(f"  measured {size} documents", flush=True)
    finally:
        await client.drop_database(db.name)
        await client.close()
    return medians


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench-mongo-write-paths")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 5_000, 20_000])
    parser.add_argument("--ops", type=int, default=40, help="operations per approach and size")
    parser.add_argument("--mongo-url", help="defaults to the test servers (the local stack)")
    args = parser.parse_args(argv)
    url = args.mongo_url
    if url is None:
        from tests.support.infrastructure import provide

        with provide() as infra:
            url = infra.mongo_url
            medians = asyncio.run(measure(url, args.sizes, args.ops))
    else:
        medians = asyncio.run(measure(url, args.sizes, args.ops))
    sizes = sorted(args.sizes)
    print(f"\nmedian ms per operation, {args.ops} operations each, server {url}")
    print(f"{'approach':54}" + "".join(f"{s:>10}" for s in sizes))
    for name, by_size in medians.items():
        print(f"{name:54}" + "".join(f"{by_size[s]:10.1f}" for s in sizes))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
