"""The platform at a glance: each service's health, each consumer group's lag, each
dead-letter topic's depth."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field

import httpx
from aiokafka import TopicPartition

from contracts.catalogue import TOPICS
from deploy.operator.dead_letters import dead_letter_topics
from deploy.operator.kafka import Kafka
from deploy.operator.lag import DeadLetterDepth, PartitionLag
from deploy.operator.replays import read_markers


@dataclass(frozen=True)
class Health:
    service: str
    url: str
    live: bool
    ready: bool
    checks: dict[str, bool] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True)
class Status:
    health: list[Health]
    lag: list[PartitionLag]
    dead_letters: list[DeadLetterDepth]

    @property
    def ready(self) -> bool:
        return all(h.ready for h in self.health)


async def health_of(client: httpx.AsyncClient, service: str, url: str) -> Health:
    """``/health/live`` and ``/health/ready`` of one service; unreachable is neither."""
    try:
        live = await client.get(f"{url}/health/live")
        ready = await client.get(f"{url}/health/ready")
    except httpx.HTTPError as error:
        return Health(service, url, live=False, ready=False, error=f"unreachable ({type(error).__name__})")
    body = ready.json() if ready.headers.get("content-type", "").startswith("application/json") else {}
    checks = body.get("checks") if isinstance(body, dict) else None
    return Health(
        service,
        url,
        live=live.status_code == 200,
        ready=ready.status_code == 200,
        checks={str(k): bool(v) for k, v in checks.items()} if isinstance(checks, dict) else {},
        error=None if ready.status_code == 200 else f"ready answered {ready.status_code}",
    )


def consumed_topics(service: str) -> list[str]:
    """Logical topics a service subscribes to, as the registry lists them."""
    return [spec.name for spec in TOPICS if service in spec.consumers]


async def lag_of(kafka: Kafka, services: Iterable[str]) -> list[PartitionLag]:
    """Every partition of every topic each service's group consumes: the registry's topics,
    and any other topic the group has committed on."""
    settings = kafka.settings
    rows: list[PartitionLag] = []
    for service in services:
        group = settings.group_of(service)
        committed = await kafka.committed(group)
        topics = {settings.topic(name) for name in consumed_topics(service)} | {tp.topic for tp in committed}
        partitions = await kafka.partitions(sorted(topics))
        bounds = await kafka.bounds(partitions)
        rows.extend(
            PartitionLag(
                group=group,
                topic=settings.logical(tp.topic),
                partition=tp.partition,
                committed=committed.get(tp),
                start=bounds[tp][0],
                end=bounds[tp][1],
            )
            for tp in partitions
        )
    return rows


async def dead_letter_depths(kafka: Kafka) -> list[DeadLetterDepth]:
    """Records kept in each dead-letter topic, and how many of them were replayed."""
    settings = kafka.settings
    partitions = await kafka.partitions(settings.topic(t) for t in dead_letter_topics())
    bounds = await kafka.bounds(partitions)
    markers = await read_markers(kafka)
    totals: dict[str, list[int]] = {t: [0, 0] for t in dead_letter_topics()}
    for tp, (start, end) in bounds.items():
        total = totals.setdefault(settings.logical(tp.topic), [0, 0])
        total[0] += end - start
        total[1] += sum(1 for coordinates in markers if _within(coordinates, tp, start, end))
    return [DeadLetterDepth(topic, records, replayed) for topic, (records, replayed) in totals.items()]


def _within(coordinates: str, tp: TopicPartition, start: int, end: int) -> bool:
    topic, partition, offset = coordinates.rsplit(":", 2)
    return topic == tp.topic and int(partition) == tp.partition and start <= int(offset) < end


async def gather_status(kafka: Kafka, services: dict[str, str], timeout: float) -> Status:
    """Health of the services (name to base URL), lag of their groups, depth of every DLQ."""
    async with httpx.AsyncClient(timeout=timeout) as client:
        health = await asyncio.gather(*(health_of(client, name, url) for name, url in services.items()))
    return Status(
        health=list(health), lag=await lag_of(kafka, services), dead_letters=await dead_letter_depths(kafka)
    )
