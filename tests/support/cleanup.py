"""Removing what a test session created on shared servers.

Every test that asks for a ``namespace`` gets its own topics (``<namespace>.<topic>``) and
databases (``<namespace>`` or ``<namespace>_<service>``). Left behind, they pile up on a
developer's local stack: after a few dozen sessions Kafka holds tens of thousands of partitions
and needs minutes just to load them when it starts. The session removes its own namespaces when
it ends, and nothing else, so sessions running side by side on one stack do not disturb each
other.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from pymongo import AsyncMongoClient

from tests.support.infrastructure import Infrastructure

# Topics per DeleteTopics request: one request naming thousands of topics times out.
_BATCH = 200


def owned_by(names: Iterable[str], namespaces: set[str], separator: str) -> list[str]:
    """The names that are one of ``namespaces``, or begin with one followed by ``separator``."""
    return sorted(name for name in names if name.split(separator, 1)[0] in namespaces)


async def _delete_topics(bootstrap: str, namespaces: set[str]) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        topics = owned_by(await admin.list_topics(), namespaces, ".")
        for start in range(0, len(topics), _BATCH):
            await admin.delete_topics(topics[start : start + _BATCH], timeout_ms=60_000)
        return len(topics)
    finally:
        await admin.close()


async def _drop_databases(mongo_url: str, namespaces: set[str]) -> int:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
    try:
        databases = owned_by(await client.list_database_names(), namespaces, "_")
        for name in databases:
            await client.drop_database(name)
        return len(databases)
    finally:
        await client.close()


def remove_namespaces(infra: Infrastructure, namespaces: set[str]) -> tuple[int, int]:
    """Delete the topics and drop the databases of ``namespaces``; how many of each."""
    if not namespaces:
        return 0, 0

    async def both() -> tuple[int, int]:
        return await _delete_topics(infra.kafka_bootstrap, namespaces), await _drop_databases(
            infra.mongo_url, namespaces
        )

    return asyncio.run(both())
