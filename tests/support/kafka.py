"""Producing and reading raw Kafka records in tests, over a real connection."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

NO_SECURITY: Mapping[str, object] = MappingProxyType({})


@dataclass(frozen=True)
class Record:
    topic: str
    key: bytes | None
    value: bytes | None
    headers: dict[str, str]
    offset: int


async def produce(
    bootstrap: str,
    topic: str,
    value: bytes,
    key: bytes | None = None,
    headers: dict[str, str] | None = None,
    *,
    security: Mapping[str, object] = NO_SECURITY,
) -> None:
    """Send one record; ``security``: aiokafka's TLS and SASL arguments for a secured listener."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, **security)
    await producer.start()
    try:
        await producer.send_and_wait(
            topic, value, key=key, headers=[(k, v.encode()) for k, v in (headers or {}).items()]
        )
    finally:
        await producer.stop()


async def read_all(
    bootstrap: str, topic: str, *, security: Mapping[str, object] = NO_SECURITY
) -> list[Record]:
    """Every record currently in a topic (all partitions), without joining a group."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, **security)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic)
        if partitions is None:
            await consumer._client.force_metadata_update()  # topic may be brand new
            partitions = consumer.partitions_for_topic(topic) or set()
        assigned = [TopicPartition(topic, p) for p in partitions]
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
    *,
    security: Mapping[str, object] = NO_SECURITY,
) -> list[Record]:
    """Poll a topic until ``predicate`` holds for its records; fail with what was seen."""
    deadline = time.monotonic() + timeout
    records: list[Record] = []
    while time.monotonic() < deadline:
        records = await read_all(bootstrap, topic, security=security)
        if predicate(records):
            return records
        await asyncio.sleep(0.3)
    raise AssertionError(f"condition not met on {topic} within {timeout}s; saw {len(records)} record(s)")


async def group_caught_up(bootstrap: str, group: str, topic: str) -> bool:
    """Whether a consumer group has committed every record now in a topic: the service
    commits after handling, so everything sent before was handled, including messages
    whose handling changes nothing anyone can see."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or set()]
        ends = await consumer.end_offsets(partitions)
        for tp in partitions:
            if ends[tp] > 0 and (await consumer.committed(tp) or 0) < ends[tp]:
                return False
        return True
    finally:
        await consumer.stop()
