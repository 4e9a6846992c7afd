"""`make bench`: real-time proposal latency (profile event in, proposal out) through the
matching service on the real stack, beside a bare echo loop on the same broker in the same run.

    python -m tests.benchmarks.matching_latency [--hires N] [--mentors M]

Hires arrive one at a time, as they would from onboarding; each latency is measured from
sending the profile event to the proposal (or waitlist) event being readable.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from contracts.catalogue import MATCHING_EVENTS, PROFILE_EVENTS
from contracts.profile import ProfileCreated
from services.matching.app import MatchingSettings, definition
from services.runtime.logging import configure_logging
from services.runtime.service import running
from services.runtime.topics import ensure_topics
from tests.support.infrastructure import Infrastructure, provide
from tests.support.matching import mentor, snapshot
from tests.support.services import settings_for

Send = Callable[[int], Awaitable[None]]


async def _latencies(bootstrap: str, out_topic: str, count: int, send: Send) -> list[float]:
    """Send ``count`` messages one by one, each time waiting for one record on ``out_topic``."""
    consumer = AIOKafkaConsumer(
        out_topic,
        bootstrap_servers=bootstrap,
        group_id=f"bench-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="latest",
    )
    await consumer.start()
    try:
        # Wait for the partitions, and for their "latest" positions to be fixed, before the
        # first message, so it is not skipped.
        while not consumer.assignment():
            await consumer.getmany(timeout_ms=100)
        for tp in consumer.assignment():
            await consumer.position(tp)
        results = []
        for index in range(count):
            started = time.perf_counter()
            await send(index)
            got = 0
            while got == 0:
                batch = await consumer.getmany(timeout_ms=50)
                got = sum(len(records) for records in batch.values())
            results.append((time.perf_counter() - started) * 1000)
        return results
    finally:
        await consumer.stop()


async def echo_loop(infra: Infrastructure, count: int) -> list[float]:
    """Baseline: a bare consumer that republishes each message (acks=all, commit per message)."""
    source, target = f"bench-{uuid.uuid4().hex[:8]}.in", f"bench-{uuid.uuid4().hex[:8]}.out"
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap, acks="all", enable_idempotence=True)
    echo = AIOKafkaConsumer(
        source,
        bootstrap_servers=infra.kafka_bootstrap,
        group_id=f"echo-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await producer.start()
    await echo.start()

    async def relay() -> None:
        async for record in echo:
            await producer.send_and_wait(target, record.value, key=record.key)
            await echo.commit()

    relaying = asyncio.create_task(relay())
    try:
        await producer.send_and_wait(source, b"warm-up", key=b"w")  # creates the topics
        await producer.send_and_wait(target, b"warm-up", key=b"w")

        async def send(index: int) -> None:
            await producer.send_and_wait(source, b"x" * 800, key=f"k{index}".encode())

        return await _latencies(infra.kafka_bootstrap, target, count, send)
    finally:
        relaying.cancel()
        await echo.stop()
        await producer.stop()


async def matching_service(infra: Infrastructure, hires: int, mentors: int) -> list[float]:
    settings = settings_for(MatchingSettings, infra, f"bench{uuid.uuid4().hex[:8]}")
    await ensure_topics(settings, (PROFILE_EVENTS, MATCHING_EVENTS))
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap, acks="all", enable_idempotence=True)
    await producer.start()

    async def publish(message: ProfileCreated) -> None:
        await producer.send_and_wait(
            settings.topic(PROFILE_EVENTS.name), message.to_json_bytes(), key=message.subject.encode()
        )

    try:
        async with running(definition, settings):
            for index in range(mentors):
                await publish(ProfileCreated.create(mentor(f"M{index:04d}", capacity=4), source="bench"))

            async def send(index: int) -> None:
                hire = snapshot(
                    f"H{index:05d}", team=("data", "mobile", "payments")[index % 3], goals=["sql"]
                )
                await publish(ProfileCreated.create(hire, source="bench"))

            return await _latencies(infra.kafka_bootstrap, settings.topic(MATCHING_EVENTS.name), hires, send)
    finally:
        await producer.stop()


def _row(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return f"{name:58} {statistics.median(ordered):9.1f} {p99:9.1f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench-matching-latency")
    parser.add_argument("--hires", type=int, default=100)
    parser.add_argument("--mentors", type=int, default=50)
    args = parser.parse_args(argv)
    configure_logging("bench", level="WARNING", fmt="console")
    with provide() as infra:
        print(
            f"servers: {infra.origin}; {args.hires} hires one at a time, {args.mentors} mentors of capacity 4"
        )
        baseline = asyncio.run(echo_loop(infra, args.hires))
        service = asyncio.run(matching_service(infra, args.hires, args.mentors))
    print(f"{'run (latency in ms)':58} {'median':>9} {'p99':>9}")
    print(_row("bare echo loop: consume, produce acks=all, commit (baseline)", baseline))
    print(_row("matching: profile event in, proposal or waitlist out", service))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
