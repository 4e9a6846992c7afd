"""Creating the topics a service uses, with the registry's partition counts.

Brokers in production usually have topics provisioned by operators; creating missing ones at
start-up is harmless there and saves a manual step everywhere else. A subscriber that joins
before its topic exists would otherwise wait for a metadata refresh to see partitions.
"""

from __future__ import annotations

from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from contracts.topics import TopicSpec
from services.runtime.broker import client_security_options
from services.runtime.settings import ServiceSettings


def admin_client(settings: ServiceSettings) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka.bootstrap_servers,
        client_id=f"{settings.client_id}-admin",
        request_timeout_ms=settings.kafka.request_timeout_ms,
        **client_security_options(settings.kafka),
    )


async def ensure_topics(settings: ServiceSettings, specs: Iterable[TopicSpec]) -> list[str]:
    """Create each topic and its dead-letter topic unless they exist; returns those created."""
    wanted: dict[str, int] = {}
    for spec in specs:
        wanted[settings.topic(spec.name)] = spec.partitions
        wanted[settings.topic(spec.dead_letter)] = 1
    admin = admin_client(settings)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(name, partitions, 1) for name, partitions in wanted.items() if name not in existing
        ]
        created: list[str] = []
        for topic in missing:
            try:
                await admin.create_topics([topic])
                created.append(topic.name)
            except TopicAlreadyExistsError:
                pass  # another replica created it a moment ago
        return created
    finally:
        await admin.close()
