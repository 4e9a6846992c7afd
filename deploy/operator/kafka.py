"""Kafka clients for the operator, with the services' connection and security settings.

Only topics that exist are ever named to the broker: a metadata request for a missing topic
creates it on brokers with ``auto.create.topics.enable`` (as the local stack has), and an
operator tool must not leave topics behind by looking.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from deploy.operator.settings import OperatorSettings
from services.runtime.broker import client_security_options
from services.runtime.topics import admin_client


@dataclass(frozen=True)
class Record:
    """One record as read, headers in order and as bytes (replay sends them back unchanged)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]


@dataclass
class Kafka:
    """An admin client and a consumer outside any group (it reads and commits nothing)."""

    settings: OperatorSettings
    admin: AIOKafkaAdminClient
    reader: AIOKafkaConsumer

    async def existing(self, topics: Iterable[str]) -> list[str]:
        present = set(await self.admin.list_topics())
        return [topic for topic in topics if topic in present]

    async def partitions(self, topics: Iterable[str]) -> list[TopicPartition]:
        """Every partition of the topics that exist."""
        names = await self.existing(topics)
        if not names:
            return []
        described = await self.admin.describe_topics(names)
        return sorted(
            TopicPartition(topic["topic"], partition["partition"])
            for topic in described
            for partition in topic["partitions"]
        )

    async def bounds(self, partitions: list[TopicPartition]) -> dict[TopicPartition, tuple[int, int]]:
        """The first offset still kept and the next offset to be written, per partition."""
        if not partitions:
            return {}
        starts = await self.reader.beginning_offsets(partitions)
        ends = await self.reader.end_offsets(partitions)
        return {tp: (starts[tp], ends[tp]) for tp in partitions}

    async def committed(self, group: str) -> dict[TopicPartition, int]:
        """A consumer group's committed offsets (partitions it never committed are absent)."""
        offsets = await self.admin.list_consumer_group_offsets(group)
        return {tp: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}

    async def read(self, topics: Iterable[str]) -> list[Record]:
        """Every record now in the topics, in partition and offset order."""
        partitions = await self.partitions(topics)
        limits = {tp: end for tp, (start, end) in (await self.bounds(partitions)).items() if end > start}
        if not limits:
            return []
        self.reader.assign(list(limits))
        await self.reader.seek_to_beginning(*limits)
        records: list[Record] = []
        while [tp for tp, end in limits.items() if await self.reader.position(tp) < end]:
            batches = await self.reader.getmany(timeout_ms=500)
            for tp, batch in batches.items():
                records.extend(
                    Record(r.topic, r.partition, r.offset, r.key, r.value, tuple(r.headers))
                    for r in batch
                    if r.offset < limits[tp]
                )
        self.reader.unsubscribe()
        return sorted(records, key=lambda r: (r.topic, r.partition, r.offset))

    async def create_compacted(self, topic: str) -> None:
        """A one-partition compacted topic, unless it exists."""
        if await self.existing([topic]):
            return
        compacted = NewTopic(topic, 1, 1, topic_configs={"cleanup.policy": "compact"})
        with contextlib.suppress(TopicAlreadyExistsError):  # another operator made it a moment ago
            await self.admin.create_topics([compacted])


@asynccontextmanager
async def connected(settings: OperatorSettings) -> AsyncIterator[Kafka]:
    admin = admin_client(settings)
    reader = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka.bootstrap_servers,
        client_id=f"{settings.client_id}-reader",
        enable_auto_commit=False,
        request_timeout_ms=settings.kafka.request_timeout_ms,
        **client_security_options(settings.kafka),
    )
    await admin.start()
    try:
        await reader.start()
        try:
            yield Kafka(settings, admin, reader)
        finally:
            await reader.stop()
    finally:
        await admin.close()


@asynccontextmanager
async def producing(settings: OperatorSettings) -> AsyncIterator[AIOKafkaProducer]:
    """A producer with the services' guarantees: every in-sync replica, no duplicates on retry."""
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka.bootstrap_servers,
        client_id=f"{settings.client_id}-producer",
        acks="all",
        enable_idempotence=True,
        request_timeout_ms=settings.kafka.request_timeout_ms,
        **client_security_options(settings.kafka),
    )
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()
