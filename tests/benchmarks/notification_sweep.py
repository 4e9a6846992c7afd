"""What one pass of the notification sweep costs when the delivery log holds many finished
deliveries, and what a profile event costs when nothing is parked for the person, on the
Mongo-wire server, beside the query the sweep used to run on the log in the same process.

    python -m tests.benchmarks.notification_sweep [--finished 3000] [--parked 300] [--passes 5]

The database is filled before the clock starts: ``--finished`` delivered messages (with their
rendered payload, as the service keeps them), a handful of attempts in flight, and ``--parked``
notices waiting for other people's profiles. Each timed sweep pass is forced to look for
attempts cut off by a crash (in the service it does so every quarter of the in-doubt time).
Last, the one read of the log each start makes to adopt records of earlier versions. The
scratch database is dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from faststream.kafka import KafkaBroker
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from services.notification.app import new_dispatcher
from services.notification.delivery import Dispatcher
from services.notification.settings import NotificationSettings
from services.notification.store import ensure_indexes
from services.runtime.mongo import Document
from services.runtime.publishing import MessagePublisher
from tests.support.infrastructure import provide
from tests.support.notification import fill_log, finished_delivery

IN_FLIGHT = 5


def _parked(n: int, now: datetime) -> Document:
    return {
        "_id": f"event-{n}:WAITING{n:05d}",
        "recipient_id": f"WAITING{n:05d}",
        "notice": {"recipient_id": f"WAITING{n:05d}", "template": "kudos_received", "data": {"z": "z" * 300}},
        "cause": {"event_id": f"event-{n}", "type": "recognition.kudos_given", "value": "y" * 600},
        "parked_at": now,
    }


def _dispatcher(db: AsyncDatabase[Document]) -> Dispatcher:
    # Nothing is due and nothing is cut off, so no channel is used and the publisher (never
    # connected) publishes nothing.
    settings = NotificationSettings(rate_limits_per_second={})
    return new_dispatcher(settings, db, MessagePublisher(KafkaBroker("127.0.0.1:1"), settings), adapters={})


async def _median_ms(passes: int, call: Callable[[], Awaitable[Any]]) -> float:
    timings = []
    for _ in range(passes):
        started = time.perf_counter()
        await call()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


async def measure(mongo_url: str, finished: int, parked: int, passes: int) -> None:
    client = AsyncMongoClient[Document](mongo_url)
    name = f"bench_notisweep_{uuid.uuid4().hex[:8]}"
    db = client[name]
    try:
        await ensure_indexes(db)
        now = datetime.now(UTC)
        await fill_log(db, finished, now)
        dispatcher = _dispatcher(db)
        # In flight as the service writes them: through the log, so whatever else it keeps
        # about an attempt in flight is written too.
        for n in range(finished, finished + IN_FLIGHT):
            doc = finished_delivery(n, now) | {"state": "sending", "attempt_started_at": now}
            await dispatcher.log.start_attempt(doc["_id"], 1, now)
            await db["deliveries"].insert_one(doc)
        for n in range(parked):
            await dispatcher.log.park(_parked(n, now))
        await dispatcher.sweep()  # one pass before the clock starts, as a running service has made

        cutoff = now - timedelta(seconds=60)

        async def old_log_query() -> None:
            await db["deliveries"].find({"state": "sending", "attempt_started_at": {"$lt": cutoff}}).to_list()

        async def sweep_pass() -> None:
            dispatcher._last_in_doubt_check = datetime.min.replace(tzinfo=UTC)
            await dispatcher.sweep()

        async def nobody_parked() -> None:
            await dispatcher.on_contact_known("NOBODY-WAITS")

        print(f"{finished} finished deliveries, {IN_FLIGHT} in flight, {parked} parked notices")
        print(f"  the log query the sweep used to run   {await _median_ms(passes, old_log_query):8.1f} ms")
        print(f"  one sweep pass (cut-off check forced) {await _median_ms(passes, sweep_pass):8.1f} ms")
        print(f"  a profile with nothing parked         {await _median_ms(passes, nobody_parked):8.1f} ms")
        adopting = await _median_ms(1, dispatcher.log.adopt_earlier_records)
        print(f"  catching up at a start (once)         {adopting:8.1f} ms")
    finally:
        await client.drop_database(name)
        await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--finished", type=int, default=3000)
    parser.add_argument("--parked", type=int, default=300)
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--mongo-url", default=None)
    args = parser.parse_args()
    if args.mongo_url:
        asyncio.run(measure(args.mongo_url, args.finished, args.parked, args.passes))
        return
    with provide() as infra:
        asyncio.run(measure(infra.mongo_url, args.finished, args.parked, args.passes))


if __name__ == "__main__":
    main()
