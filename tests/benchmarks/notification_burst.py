"""`make bench`: a burst of notifications through the notification service on the real stack,
to the local SMTP server (Mailpit) and to a real HTTP receiver, with the rate limit off and on,
beside the channel adapters sending the same messages directly (no broker, no delivery log)
in the same run.

    python -m tests.benchmarks.notification_burst [--count N] [--rate R]

Each notification is a session reminder to one person on one channel (email for half of the
people, a webhook for the other half). Contacts are loaded into the service's database before
the clock starts; then every reminder is published at once, and the clock stops when the
delivery log holds every delivery as sent.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient

from contracts.catalogue import (
    MATCHING_EVENTS,
    NOTIFICATION_EVENTS,
    PROFILE_EVENTS,
    RECOGNITION_EVENTS,
    SCHEDULING_EVENTS,
)
from contracts.profile import Channel, ProfileSnapshot
from contracts.scheduling import ReminderDue, ReminderDueData
from deploy.local.chat_receiver import ChatReceiver, running_receiver
from services.notification.app import definition
from services.notification.channels import build_adapters
from services.notification.channels.base import ChannelAdapter
from services.notification.contacts import Contact, contact_fields
from services.notification.notices import notices_for
from services.notification.rendering import Renderer
from services.notification.settings import NotificationSettings, SmtpSettings
from services.runtime.logging import configure_logging
from services.runtime.service import running
from services.runtime.settings import KafkaSettings
from services.runtime.topics import ensure_topics
from tests.support.infrastructure import Infrastructure, provide
from tests.support.kafka import TopicProgress
from tests.support.services import settings_for
from tests.support.waiting import eventually

DIRECT_SAMPLE = 2_000


@dataclass(frozen=True)
class Run:
    label: str
    seconds: float
    messages: int


def _snapshot(index: int, namespace: str, receiver: ChatReceiver) -> ProfileSnapshot:
    person_id = f"p{index}"
    channel = "email" if index % 2 == 0 else "webhook"
    return ProfileSnapshot.model_validate(
        {
            "person_id": person_id,
            "revision": 1,
            "status": "active",
            "display_name": f"Person {index}",
            "email": f"{person_id}.{namespace}@bench.example.com",
            "time_zone": "Europe/Berlin",
            "contact": {"channels": [channel], "webhook_url": receiver.url(f"/{namespace}/{person_id}")},
        }
    )


def _reminder(index: int, starts_at: datetime) -> ReminderDue:
    data = ReminderDueData(
        reminder_id=f"r-{index}",
        session_id=f"s-{index}",
        person_id=f"p{index}",
        starts_at=starts_at,
        lead_minutes=60,
        local_start=starts_at.isoformat(),
    )
    return ReminderDue.create(data, source="bench")


def _settings(infra: Infrastructure, namespace: str, rate: float) -> NotificationSettings:
    base = settings_for(NotificationSettings, infra, namespace)
    limits = {Channel.EMAIL: rate, Channel.WEBHOOK: rate} if rate > 0 else {}
    return base.model_copy(
        update={
            "smtp": SmtpSettings(host=infra.smtp_host, port=infra.smtp_port, connections=8),
            "rate_limits_per_second": limits,
            "sweep_seconds": 0.2,
            "kafka": KafkaSettings(bootstrap_servers=infra.kafka_bootstrap, topic_prefix=f"{namespace}."),
        }
    )


async def directly(infra: Infrastructure, receiver: ChatReceiver, count: int) -> Run:
    """Baseline: render and send with the same adapters, one after another in batches."""
    settings = _settings(infra, f"bench{uuid.uuid4().hex[:8]}", 0)
    adapters = build_adapters(settings)
    renderer = Renderer(settings.links.app_url, settings.links.preferences_path)
    starts_at = datetime.now(UTC) + timedelta(hours=1)
    jobs: list[tuple[ChannelAdapter, str, str, dict[str, Any]]] = []
    for index in range(count):
        snapshot = _snapshot(index, "direct", receiver)
        fields = contact_fields(snapshot)
        contact = Contact(
            person_id=snapshot.person_id,
            name=str(fields["name"]),
            email=str(fields["email"]),
            time_zone="Europe/Berlin",
            active=True,
            channels=tuple(Channel(c) for c in snapshot.contact.channels),
            webhook_url=str(snapshot.contact.webhook_url),
        )
        notice = notices_for(_reminder(index, starts_at))[0]
        channel = contact.channels[0]
        adapter = adapters[channel]
        address = adapter.address_of(contact)
        assert address is not None
        jobs.append((adapter, f"direct-{index}", address, adapter.compose(renderer, notice, contact, {})))
    gate = asyncio.Semaphore(16)

    async def send(job: tuple[ChannelAdapter, str, str, dict[str, Any]]) -> None:
        adapter, nid, address, payload = job
        async with gate:
            await adapter.send(nid, address, payload)

    started = time.perf_counter()
    await asyncio.gather(*(send(job) for job in jobs))
    seconds = time.perf_counter() - started
    for adapter in adapters.values():
        await adapter.close()
    return Run("adapters alone, rendered in advance (baseline)", seconds, count)


async def through_service(infra: Infrastructure, receiver: ChatReceiver, count: int, rate: float) -> Run:
    namespace = f"bench{uuid.uuid4().hex[:8]}"
    settings = _settings(infra, namespace, rate)
    await ensure_topics(
        settings,
        (PROFILE_EVENTS, MATCHING_EVENTS, SCHEDULING_EVENTS, RECOGNITION_EVENTS, NOTIFICATION_EVENTS),
    )
    mongo = AsyncMongoClient[dict[str, object]](infra.mongo_url)
    contacts = mongo[settings.database_name]["contacts"]
    docs = [
        {"_id": s.person_id, "revision": s.revision, **contact_fields(s)}
        for s in (_snapshot(i, namespace, receiver) for i in range(count))
    ]
    for start in range(0, len(docs), 1000):
        await contacts.insert_many(docs[start : start + 1000])
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    starts_at = datetime.now(UTC) + timedelta(hours=1)
    try:
        async with running(definition, settings) as runtime:
            deliveries = runtime.db["deliveries"]
            started = time.perf_counter()
            sends = []
            for index in range(count):
                event = _reminder(index, starts_at)
                sends.append(
                    await producer.send(
                        settings.topic(SCHEDULING_EVENTS.name),
                        event.to_json_bytes(),
                        key=event.subject.encode(),
                    )
                )
            await asyncio.gather(*sends)

            # Every delivery publishes one notification.delivered: the topic's end offsets count
            # them without loading the database being measured.
            async with TopicProgress(infra.kafka_bootstrap, settings.topic(NOTIFICATION_EVENTS.name)) as out:

                async def all_delivered() -> bool:
                    return await out.published() >= count

                await eventually(all_delivered, timeout=7200, what=f"{count} deliveries")
            seconds = time.perf_counter() - started
            sent = await deliveries.count_documents({"state": "sent"})
            assert sent == count, f"{sent} of {count} deliveries are recorded as sent"
    finally:
        await producer.stop()
        await mongo.close()
    label = f"service, rate limit {rate:g}/s per channel" if rate > 0 else "service, rate limit off"
    return Run(label, seconds, count)


async def bench(infra: Infrastructure, count: int, rate: float) -> list[Run]:
    async with running_receiver() as receiver:
        runs = [await directly(infra, receiver, min(count, DIRECT_SAMPLE))]
        runs.append(await through_service(infra, receiver, count, 0))
        runs.append(await through_service(infra, receiver, count, rate))
    return runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench-notification-burst")
    parser.add_argument("--count", type=int, default=10_000, help="notifications in the burst")
    parser.add_argument("--rate", type=float, default=10, help="per-channel limit for the 'on' run")
    args = parser.parse_args(argv)
    configure_logging("bench", level="WARNING", fmt="console")
    with provide() as infra:
        print(
            f"servers: {infra.origin}; a burst of {args.count} reminders, half by email (SMTP), "
            f"half by webhook (HTTP receiver)"
        )
        runs = asyncio.run(bench(infra, args.count, args.rate))
    print(f"{'run':58} {'messages':>9} {'seconds':>9} {'deliveries/s':>13}")
    for run in runs:
        print(f"{run.label:58} {run.messages:9} {run.seconds:9.2f} {run.messages / run.seconds:13.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
