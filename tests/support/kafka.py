"""Producing and reading raw Kafka records in tests, over a real connection."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition


@dataclass(frozen=True)
class Record:
    topic: str
    key: bytes | None
    value: bytes | None
    headers: dict[str, str]
    offset: int
    partition: int = 0


async def produce(
    bootstrap: str, topic: str, value: bytes, key: bytes | None = None, headers: dict[str, str] | None = None
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(
            topic, value, key=key, headers=[(k, v.encode()) for k, v in (headers or {}).items()]
        )
    finally:
        await producer.stop()


async def partitions_of(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    """The partitions of ``topic`` (none while it does not exist), from that topic's metadata
    alone: a client that refreshes without topics of its own fetches every topic on the broker,
    thousands on a test broker many sessions share, and decoding that costs a tenth of a second."""
    await consumer._client.add_topic(topic)
    if consumer.partitions_for_topic(topic) is None:
        await consumer._client.force_metadata_update()  # created since the client last asked
    return [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]


async def read_all(bootstrap: str, topic: str) -> list[Record]:
    """Every record currently in a topic (all partitions), without joining a group."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        assigned = await partitions_of(consumer, topic)
        if not assigned:
            return []
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        ends = await consumer.end_offsets(assigned)
        records: list[Record] = []
        while [tp for tp in assigned if await consumer.position(tp) < ends[tp]]:
            batch = await consumer.getmany(timeout_ms=500)
            for items in batch.values():
                records.extend(
                    Record(
                        topic=r.topic,
                        key=r.key,
                        value=r.value,
                        headers={k: v.decode() for k, v in r.headers},
                        offset=r.offset,
                        partition=r.partition,
                    )
                    for r in items
                )
        return records
    finally:
        await consumer.stop()


async def wait_for_records(
    bootstrap: str,
    topic: str,
    predicate: Callable[[list[Record]], bool],
    timeout: float = 30.0,
) -> list[Record]:
    """Poll a topic until ``predicate`` holds for its records; fail with what was seen."""
    deadline = time.monotonic() + timeout
    records: list[Record] = []
    while time.monotonic() < deadline:
        records = await read_all(bootstrap, topic)
        if predicate(records):
            return records
        await asyncio.sleep(0.3)
    raise AssertionError(f"condition not met on {topic} within {timeout}s; saw {len(records)} record(s)")


async def group_caught_up(bootstrap: str, group: str, topic: str) -> bool:
    """Whether a consumer group has committed every record now in a topic: the service
    commits after handling, so everything sent before was handled, including messages
    whose handling changes nothing anyone can see."""
    async with TopicProgress(bootstrap, topic, group) as progress:
        return await progress.caught_up()


async def committed_offsets(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    """The offset a consumer group has committed on each partition of a topic (0 when none)."""
    async with TopicProgress(bootstrap, topic, group) as progress:
        return {tp.partition: offset for tp, offset in (await progress.committed()).items()}


class TopicProgress:
    """How many records a topic holds and how far a consumer group has committed on it, asked
    through one client that can be kept open while polling (a new client per poll is slow)."""

    def __init__(self, bootstrap: str, topic: str, group: str | None = None) -> None:
        self.topic = topic
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
        )

    async def __aenter__(self) -> TopicProgress:
        await self.consumer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.consumer.stop()

    async def ends(self) -> dict[TopicPartition, int]:
        partitions = await partitions_of(self.consumer, self.topic)
        return await self.consumer.end_offsets(partitions) if partitions else {}

    async def published(self) -> int:
        """Records in the topic, all partitions together."""
        return sum((await self.ends()).values())

    async def committed(self) -> dict[TopicPartition, int]:
        """The group's committed offset per partition (0 where it committed nothing)."""
        partitions = await partitions_of(self.consumer, self.topic)
        return {tp: await self.consumer.committed(tp) or 0 for tp in partitions}

    async def caught_up(self) -> bool:
        """Whether the group has committed every record now in the topic: services commit after
        handling, so everything sent before was handled, including messages whose handling
        changes nothing anyone can see."""
        ends = await self.ends()
        committed = await self.committed()
        return all(committed.get(tp, 0) >= end for tp, end in ends.items() if end > 0)
