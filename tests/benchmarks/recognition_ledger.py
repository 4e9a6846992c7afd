"""`make bench`: the recognition ledger on the real stack, each figure beside a baseline
measured in the same run.

    python -m tests.benchmarks.recognition_ledger [--entries 1000000] [--people 20000]
                                                  [--months 24] [--sessions 300]

1. **Ledger events processed per second**: ``scheduling.session_completed`` events (each
   worth three ledger entries: hosting, good feedback, attending) are published at once to a
   running recognition service; the clock stops when every entry is in the ledger and folded
   into its person's standings (badges included). Baseline: the same number of ledger
   documents written one ``insert_one`` at a time, the least a durable ledger costs per entry.
2. **Leaderboards over a ledger of ``--entries`` entries**: the ledger is bulk-loaded
   (``insert_many``; timed and reported) together with the standings the fold would have made
   of it (folded in memory with the service's own pure functions), then every period's boards
   are rebuilt once (the refresh task's work, timed), and leaderboard reads by period and team
   go through the read API's lookup (median and p99). Baseline: the one query a leaderboard
   without rebuilt boards would need, a filtered and sorted query over every person's standings.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from random import Random
from typing import Any

from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient

from contracts.catalogue import SCHEDULING_EVENTS
from contracts.recognition import PointsReason
from contracts.scheduling import SessionCompleted
from services.recognition.app import definition
from services.recognition.boards import leaderboard, refresh_leaderboards
from services.recognition.ledger import Entry, Grant, effect, entry_id
from services.recognition.settings import RecognitionSettings
from services.recognition.standings import collection_of, increments, period_keys
from services.recognition.store import RecognitionStore, entry_document
from services.runtime.logging import configure_logging
from services.runtime.mongo import Document
from services.runtime.service import running
from services.runtime.topics import ensure_topics
from tests.support.infrastructure import Infrastructure, provide
from tests.support.recognition import completed
from tests.support.services import settings_for
from tests.support.waiting import eventually

TEAMS = 40
BATCH = 5_000
REASONS = [
    (PointsReason.SESSION_MENTORED, 10, True),
    (PointsReason.SESSION_ATTENDED, 2, False),
    (PointsReason.GOOD_FEEDBACK, 5, False),
    (PointsReason.OFFICE_HOURS_HOSTED, 5, False),
    (PointsReason.KUDOS_RECEIVED, 3, False),
]


# ------------------------------------------------------------------ 1. events through the service


async def through_service(infra: Infrastructure, settings: RecognitionSettings, sessions: int) -> float:
    await ensure_topics(settings, definition.consumes)
    start = datetime(2026, 1, 5, 9, tzinfo=UTC)
    events = [
        completed(f"bench-{n}", f"M{n % 50}", [f"E{n}"], start + timedelta(hours=n), ratings={f"E{n}": 5})
        for n in range(sessions)
    ]
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        async with running(definition, settings) as runtime:
            ledger = runtime.db["ledger"]
            topic = settings.topic(SCHEDULING_EVENTS.name)

            async def send(batch: list[SessionCompleted]) -> None:
                pending = [
                    await producer.send(
                        topic, e.to_json_bytes(), key=e.subject.encode(), headers=_headers(e.headers())
                    )
                    for e in batch
                ]
                await asyncio.gather(*pending)

            async def folded(count: int) -> None:
                async def done() -> bool:
                    return await ledger.count_documents({"applied": True}) >= count

                await eventually(done, timeout=3600, what=f"{count} ledger entries folded")

            # The first session only warms up: consumer group joins are not ledger work.
            await send(events[:1])
            await folded(3)
            started = time.perf_counter()
            await send(events[1:])
            await folded(3 * sessions)
            return time.perf_counter() - started
    finally:
        await producer.stop()


def _headers(headers: dict[str, str]) -> list[tuple[str, bytes]]:
    return [(k, v.encode()) for k, v in headers.items()]


async def one_write_each(infra: Infrastructure, database: str, count: int) -> float:
    client: AsyncMongoClient[Document] = AsyncMongoClient(infra.mongo_url)
    try:
        collection = client[database]["baseline_ledger"]
        at = datetime(2026, 1, 5, tzinfo=UTC)
        started = time.perf_counter()
        for n in range(count):
            await collection.insert_one(
                {
                    "_id": f"baseline-{n}",
                    "person_id": f"P{n % 50}",
                    "points": 10,
                    "earned_at": at,
                    "applied": True,
                }
            )
        return time.perf_counter() - started
    finally:
        await client.close()


# ------------------------------------------------------------------ 2. a ledger of a million entries


def _entries(rng: Random, count: int, people: int, months: int) -> Any:
    """Entries spread over people and months, about a third of hosting ones rated."""
    first = datetime(2026, 11, 30, 23, tzinfo=UTC)
    for n in range(count):
        reason, points, rated = REASONS[rng.randrange(len(REASONS))]
        at = first - timedelta(days=rng.randrange(months * 30), hours=rng.randrange(24))
        ratings = (rng.choice((2, 3, 4, 4, 5, 5)),) if rated and rng.random() < 0.6 else ()
        grant = Grant(f"P{rng.randrange(people):06d}", reason, points, at, "onboarding", ratings)
        yield Entry(
            entry_id(f"bench-{n}", grant, 1), grant.person_id, reason, points, at, "onboarding", ratings
        )


def _add(doc: dict[str, Any], inc: dict[str, int]) -> None:
    for path, value in inc.items():
        node = doc
        *parents, leaf = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = node.get(leaf, 0) + value


async def load(db: Any, args: argparse.Namespace) -> tuple[float, float, int, set[str]]:
    """Bulk-load the ledger; standings folded in memory, then loaded; seconds for each."""
    rng = Random(2026)
    standings: dict[str, dict[str, dict[str, Any]]] = {}
    ledger_seconds = 0.0
    batch: list[Document] = []
    for entry in _entries(rng, args.entries, args.people, args.months):
        inc = increments(effect(entry), entry.programme_id)
        for period in period_keys(entry.earned_at):
            _add(standings.setdefault(period, {}).setdefault(entry.person_id, {"_id": entry.person_id}), inc)
        batch.append({"_id": entry.entry_id, **entry_document(entry), "applied": True})
        if len(batch) == BATCH:
            started = time.perf_counter()
            await db["ledger"].insert_many(batch, ordered=False)
            ledger_seconds += time.perf_counter() - started
            batch = []
    if batch:
        started = time.perf_counter()
        await db["ledger"].insert_many(batch, ordered=False)
        ledger_seconds += time.perf_counter() - started
    started = time.perf_counter()
    count = 0
    for period, by_person in standings.items():
        docs = list(by_person.values())
        count += len(docs)
        for i in range(0, len(docs), BATCH):
            await db[collection_of(period)].insert_many(docs[i : i + BATCH], ordered=False)
    people = {person for by_person in standings.values() for person in by_person}
    await db["people"].insert_many(
        [{"_id": p, "revision": 1, "team": f"team-{int(p[1:]) % TEAMS}", "manager_id": None} for p in people],
        ordered=False,
    )
    return ledger_seconds, time.perf_counter() - started, count, set(standings)


async def leaderboards(
    infra: Infrastructure, settings: RecognitionSettings, args: argparse.Namespace
) -> None:
    client: AsyncMongoClient[Document] = AsyncMongoClient(infra.mongo_url, tz_aware=True)
    db = client[settings.database_name]
    store = RecognitionStore(db)
    try:
        ledger_seconds, standings_seconds, documents, periods = await load(db, args)
        print(
            f"ledger bulk-loaded: {args.entries} entries in {ledger_seconds:.1f} s "
            f"({args.entries / ledger_seconds:.0f}/s); {documents} standings documents "
            f"({args.people} people, {len(periods)} periods) in {standings_seconds:.1f} s"
        )
        await store.mark_dirty(sorted(periods), datetime.now(UTC))
        started = time.perf_counter()
        boards = await refresh_leaderboards(store, settings)
        refresh = time.perf_counter() - started

        rng = Random(9)
        keys = sorted(periods)
        reads: list[float] = []
        for _ in range(args.reads):
            period = rng.choice(keys)
            scope = "*" if rng.random() < 0.5 else f"team:team-{rng.randrange(TEAMS)}"
            started = time.perf_counter()
            lines = await leaderboard(store, period, scope)
            reads.append(time.perf_counter() - started)
            assert lines, f"an empty board for {period} {scope}"

        month = keys[len(keys) // 2]
        started = time.perf_counter()
        naive = [
            doc
            async for doc in db[collection_of(month)]
            .find({"points": {"$gt": 0}}, {"_applied": 0})
            .sort("points", -1)
            .limit(settings.leaderboard_size)
        ]
        baseline = time.perf_counter() - started
        assert naive
    finally:
        await client.drop_database(settings.database_name)
        await client.close()
    reads.sort()
    p99 = reads[min(len(reads) - 1, int(len(reads) * 0.99))]
    print(f"{'leaderboard over ' + format(args.entries, ',') + ' ledger entries':62} {'ms':>9}")
    _row("one query over a month of standings, sorted by points (baseline)", baseline * 1000)
    _row(f"read API lookup, median of {len(reads)} (period x team)", statistics.median(reads) * 1000)
    _row("read API lookup, p99", p99 * 1000)
    _row(f"refresh of all {len(periods)} periods ({boards} boards), once", refresh * 1000)


def _row(label: str, *figures: float) -> None:
    print(f"{label:62} " + " ".join(f"{f:9.1f}" for f in figures))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench-recognition-ledger")
    parser.add_argument("--entries", type=int, default=1_000_000, help="ledger entries bulk-loaded")
    parser.add_argument("--people", type=int, default=5_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--sessions", type=int, default=101, help="completed sessions through the service")
    parser.add_argument("--reads", type=int, default=200, help="leaderboard reads timed")
    args = parser.parse_args(argv)
    configure_logging("bench", level="WARNING", fmt="console")
    with provide() as infra:
        settings = settings_for(RecognitionSettings, infra, f"bench{uuid.uuid4().hex[:8]}")
        print(f"servers: {infra.origin}")
        service = asyncio.run(through_service(infra, settings, args.sessions))
        baseline = asyncio.run(one_write_each(infra, settings.database_name, 3 * (args.sessions - 1)))
        asyncio.run(_drop(infra, settings.database_name))
        entries = 3 * (args.sessions - 1)
        print(f"{'ledger events processed':62} {'seconds':>9} {'entries/s':>9}")
        _row("one insert_one per ledger entry, nothing else (baseline)", baseline, entries / baseline)
        _row(
            f"service: {args.sessions - 1} session_completed in, {entries} entries folded",
            service,
            entries / service,
        )
        settings = settings_for(RecognitionSettings, infra, f"bench{uuid.uuid4().hex[:8]}")
        asyncio.run(leaderboards(infra, settings, args))
    return 0


async def _drop(infra: Infrastructure, database: str) -> None:
    client: AsyncMongoClient[Document] = AsyncMongoClient(infra.mongo_url)
    await client.drop_database(database)
    await client.close()


if __name__ == "__main__":
    raise SystemExit(main())
