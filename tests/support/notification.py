"""The notification service on the real stack, with a real SMTP server (Mailpit) and a real
HTTP receiver for chat webhooks, seen from outside."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import datetime, time, timedelta
from typing import Any

from opentelemetry.sdk.trace.export import SpanExporter
from pydantic import SecretStr
from pymongo.asynchronous.database import AsyncDatabase

from contracts.catalogue import NOTIFICATION_EVENTS, topic_of
from contracts.envelope import Envelope
from contracts.profile import Channel, ProfileCreated, ProfileSnapshot
from deploy.local.chat_receiver import ChatReceiver, running_receiver
from services.notification.app import definition, new_dispatcher
from services.notification.channels.base import ChannelAdapter
from services.notification.channels.http import WebhookPoster
from services.notification.channels.webhook import GenericWebhookAdapter
from services.notification.delivery import Dispatcher
from services.notification.settings import DeliveryRetry, NotificationSettings, SmtpSettings
from services.runtime.mongo import Document
from services.runtime.service import Runtime, running
from tests.support.infrastructure import Infrastructure
from tests.support.kafka import Record, group_caught_up, produce, read_all, wait_for_records
from tests.support.mailpit import Mailpit
from tests.support.services import settings_for
from tests.support.waiting import eventually

TOKEN = "notification-test-token"
ALL_CHANNELS = ("email", "slack", "teams", "webhook")


def notification_settings(infra: Infrastructure, namespace: str, **changes: Any) -> NotificationSettings:
    base = settings_for(NotificationSettings, infra, namespace)
    fields: dict[str, Any] = {
        "smtp": SmtpSettings(
            host=infra.smtp_host, port=infra.smtp_port, from_address="mentorship@example.com"
        ),
        "delivery_retry": DeliveryRetry(max_attempts=4, backoff_initial_seconds=0.2, backoff_max_seconds=0.5),
        "sweep_seconds": 0.2,
        "rate_limits_per_second": {},
        "api_token": SecretStr(TOKEN),
    }
    return base.model_copy(update=fields | changes)


class StalledWebhook(GenericWebhookAdapter):
    """A webhook channel whose sends never finish: stop the task using it, and it is as if the
    process had died in the middle of a send (the message never left)."""

    def __init__(self) -> None:
        super().__init__(WebhookPoster(timeout_seconds=1))

    async def send(self, notification_id: str, address: str, payload: Mapping[str, Any]) -> str | None:
        await asyncio.Event().wait()
        raise AssertionError("a stalled send never finishes")


def finished_delivery(n: int, now: datetime) -> Document:
    """A delivery as the log keeps one once its message went out (rendered payload and cause
    event included), about the size of a chat message."""
    return {
        "_id": f"finished-{n:07d}",
        "recipient_id": f"P{n % 997:04d}",
        "channel": "webhook",
        "template": "match_proposed",
        "priority": "normal",
        "cause_event_id": f"cause-{n}",
        "cause_type": "matching.match_proposed",
        "correlation_id": f"cause-{n}",
        "created_at": now - timedelta(hours=1),
        "attempts": 1,
        "max_attempts": 6,
        "address": "http://127.0.0.1:9/hook",
        "payload": {"template": "match_proposed", "text": "x" * 900, "data": {"match_id": str(n)}},
        "cause": {"event_id": f"cause-{n}", "type": "matching.match_proposed", "value": "y" * 600},
        "state": "sent",
        "attempt_started_at": now - timedelta(hours=1),
        "sent_at": now - timedelta(hours=1),
    }


async def fill_log(db: AsyncDatabase[Document], count: int, now: datetime) -> None:
    docs = [finished_delivery(n, now) for n in range(count)]
    for start in range(0, count, 500):
        await db["deliveries"].insert_many(docs[start : start + 500])


class Notification:
    """The running service, the people it knows, and where their messages land."""

    def __init__(
        self, infra: Infrastructure, settings: NotificationSettings, runtime: Runtime, receiver: ChatReceiver
    ) -> None:
        self.infra = infra
        self.settings = settings
        self.runtime = runtime
        self.db: AsyncDatabase[Document] = runtime.db
        self.receiver = receiver
        self.mailpit = Mailpit(infra.mailpit_api)
        self.namespace = settings.kafka.topic_prefix.rstrip(".")

    def address(self, person_id: str) -> str:
        return f"{person_id.lower()}.{self.namespace}@example.com"

    def another_instance(
        self,
        db: AsyncDatabase[Document] | None = None,
        adapters: Mapping[Channel, ChannelAdapter] | None = None,
    ) -> Dispatcher:
        """A second instance of the service's delivery logic on the same data (through ``db``,
        another client's handle, when given), publishing through the running service."""
        on = db if db is not None else self.db
        return new_dispatcher(self.settings, on, self.runtime.publisher, adapters=adapters)

    def hook(self, person_id: str, channel: str) -> str:
        return f"/{self.namespace}/{person_id}/{channel}"

    def person(
        self,
        person_id: str,
        *,
        channels: tuple[str, ...] = ALL_CHANNELS,
        quiet_hours: tuple[time, time] | None = None,
        digest: bool = False,
        time_zone: str = "Europe/Berlin",
        name: str | None = None,
        revision: int = 1,
    ) -> ProfileSnapshot:
        contact: dict[str, Any] = {
            "channels": list(channels),
            "slack_webhook_url": self.receiver.url(self.hook(person_id, "slack")),
            "teams_webhook_url": self.receiver.url(self.hook(person_id, "teams")),
            "webhook_url": self.receiver.url(self.hook(person_id, "webhook")),
            "digest": digest,
        }
        if quiet_hours:
            contact["quiet_hours"] = {"start": quiet_hours[0].isoformat(), "end": quiet_hours[1].isoformat()}
        return ProfileSnapshot.model_validate(
            {
                "person_id": person_id,
                "revision": revision,
                "status": "active",
                "display_name": name or f"{person_id.title()} Example",
                "email": self.address(person_id),
                "time_zone": time_zone,
                "contact": contact,
            }
        )

    async def profiles(self, *snapshots: ProfileSnapshot) -> None:
        """Send profiles and wait until notification knows how to reach everyone."""
        for snapshot in snapshots:
            await self.publish(ProfileCreated.create(snapshot, source="profile"))
        wanted = {s.person_id: s.revision for s in snapshots}

        async def known() -> bool:
            docs = self.db["contacts"].find({"_id": {"$in": list(wanted)}}, {"revision": 1})
            current = [int(doc["revision"]) >= wanted[doc["_id"]] async for doc in docs]
            return sum(current) == len(wanted)

        await eventually(known, what="notification knowing everyone")

    async def publish(self, event: Envelope, headers: dict[str, str] | None = None) -> None:
        await produce(
            self.infra.kafka_bootstrap,
            self.settings.topic(topic_of(type(event)).name),
            event.to_json_bytes(),
            key=event.subject.encode(),
            headers={**event.headers(), **(headers or {})},
        )

    async def handled_everything_on(self, event_type: type[Envelope]) -> None:
        topic = self.settings.topic(topic_of(event_type).name)

        async def caught_up() -> bool:
            return await group_caught_up(self.infra.kafka_bootstrap, self.settings.consumer_group, topic)

        await eventually(caught_up, what=f"notification handling everything on {topic}")

    async def outcomes(self, count: int, timeout: float = 30.0) -> list[dict[str, Any]]:
        """At least ``count`` delivered / failed events, decoded."""
        records = await wait_for_records(
            self.infra.kafka_bootstrap,
            self.settings.topic(NOTIFICATION_EVENTS.name),
            lambda found: len(found) >= count,
            timeout=timeout,
        )
        return [json.loads(r.value or b"") for r in records]

    async def all_outcomes(self) -> list[dict[str, Any]]:
        records = await read_all(self.infra.kafka_bootstrap, self.settings.topic(NOTIFICATION_EVENTS.name))
        return [json.loads(r.value or b"") for r in records]

    async def dead_letters(self, event_type: type[Envelope], count: int) -> list[Record]:
        return await wait_for_records(
            self.infra.kafka_bootstrap,
            f"{self.settings.topic(topic_of(event_type).name)}.dlq",
            lambda found: len(found) >= count,
        )

    async def deliveries(self, **query: Any) -> list[Document]:
        return [doc async for doc in self.db["deliveries"].find(query)]

    async def wait_for_deliveries(self, count: int, **query: Any) -> list[Document]:
        found: list[Document] = []

        async def enough() -> bool:
            nonlocal found
            found = await self.deliveries(**query)
            return len(found) >= count

        await eventually(enough, what=f"{count} deliveries matching {query}")
        return found

    async def chat(self, person_id: str, channel: str, count: int, timeout: float = 30.0) -> list[Any]:
        path = self.hook(person_id, channel)
        await eventually(
            lambda: len(self.receiver.on(path)) >= count,
            timeout=timeout,
            what=f"{count} {channel} message(s)",
        )
        return [d.body for d in self.receiver.on(path)]


@asynccontextmanager
async def notification_service(
    infra: Infrastructure,
    namespace: str,
    receiver: ChatReceiver | None = None,
    span_exporter: SpanExporter | None = None,
    **changes: Any,
) -> AsyncIterator[Notification]:
    """The real service in a namespace of its own, with a chat receiver of its own."""
    settings = notification_settings(infra, namespace, **changes)
    async with (
        contextlib_receiver(receiver) as chat,
        running(definition, settings, span_exporter=span_exporter) as runtime,
    ):
        yield Notification(infra, settings, runtime, chat)


@asynccontextmanager
async def contextlib_receiver(receiver: ChatReceiver | None) -> AsyncIterator[ChatReceiver]:
    if receiver is not None:
        yield receiver
        return
    async with running_receiver() as started:
        yield started
