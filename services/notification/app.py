"""The notification service assembled: its consumers, its sweep and its delivery log API.

- profile events keep its own view of how to reach each person (and release notices that
  arrived before the person's profile);
- matching, scheduling and recognition events become notices, delivered per channel;
- on a clock: retries, messages held for quiet hours or a rate limit, daily digests, and the
  recovery of attempts cut off by a crash.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from faststream.kafka import KafkaRouter
from faststream.kafka.annotations import KafkaMessage
from pymongo.asynchronous.database import AsyncDatabase

from contracts.catalogue import (
    MATCHING_EVENTS,
    NOTIFICATION_EVENTS,
    PROFILE_EVENTS,
    RECOGNITION_EVENTS,
    SCHEDULING_EVENTS,
)
from contracts.envelope import Envelope
from contracts.profile import Channel, ProfileCreated, ProfileDeactivated, ProfileUpdated
from contracts.topics import TopicSpec
from services.notification.channels import build_adapters
from services.notification.channels.base import ChannelAdapter
from services.notification.contacts import Contacts
from services.notification.delivery import SERVICE, Dispatcher
from services.notification.rate_limit import TokenBucket
from services.notification.read_api import build_http
from services.notification.rendering import Renderer
from services.notification.settings import NotificationSettings
from services.notification.store import DeliveryLog, ensure_indexes
from services.runtime.broker import subscribe
from services.runtime.dead_letter import DLQ_HEADER_PREFIX
from services.runtime.metrics import NO_METRICS, Metrics
from services.runtime.mongo import Document
from services.runtime.periodic import PeriodicTask
from services.runtime.publishing import MessagePublisher
from services.runtime.service import Runtime, ServiceDefinition
from services.runtime.settings import settings_as

__all__ = ["NotificationSettings", "build_router", "definition", "dispatcher_of", "new_dispatcher"]

NOTIFIED_TOPICS = (MATCHING_EVENTS, SCHEDULING_EVENTS, RECOGNITION_EVENTS)


def dispatcher_of(runtime: Runtime) -> Dispatcher:
    """The process's one dispatcher: its connection pools and rate limits are shared by the
    consumers and the sweep."""
    existing = runtime.components.get("dispatcher")
    if isinstance(existing, Dispatcher):
        return existing
    settings = settings_as(runtime.settings, NotificationSettings)
    dispatcher = new_dispatcher(settings, runtime.db, runtime.publisher, runtime.metrics)
    runtime.components["dispatcher"] = dispatcher
    return dispatcher


def new_dispatcher(
    settings: NotificationSettings,
    db: AsyncDatabase[Document],
    publisher: MessagePublisher,
    metrics: Metrics = NO_METRICS,
    adapters: Mapping[Channel, ChannelAdapter] | None = None,
) -> Dispatcher:
    """A dispatcher on ``db`` with the channels the settings describe (or ``adapters``)."""
    return Dispatcher(
        deliveries=DeliveryLog(db),
        contacts=Contacts(db),
        adapters=build_adapters(settings) if adapters is None else adapters,
        renderer=Renderer(settings.links.app_url, settings.links.preferences_path),
        publisher=publisher,
        settings=settings,
        limits={
            channel: TokenBucket(settings.rate_limits_per_second.get(channel, 0.0), settings.rate_limit_burst)
            for channel in Channel
        },
        metrics=metrics,
    )


def replayed_notifications(headers: dict[str, Any]) -> list[str]:
    """A dead letter this service wrote, replayed by an operator, names the delivery to retry."""
    if headers.get(f"{DLQ_HEADER_PREFIX}service") != SERVICE:
        return []
    notification_id = headers.get(f"{DLQ_HEADER_PREFIX}notification_id")
    return [str(notification_id)] if notification_id else []


def _notify_from(router: KafkaRouter, runtime: Runtime, spec: TopicSpec) -> None:
    dispatcher = dispatcher_of(runtime)

    @subscribe(router, runtime.settings, spec)
    async def on_event(event: Envelope, message: KafkaMessage) -> None:
        await dispatcher.on_event(event, spec.name, replayed_notifications(message.headers))


def build_router(runtime: Runtime) -> KafkaRouter:
    """Built per process: a FastStream router can belong to one broker only."""
    dispatcher = dispatcher_of(runtime)
    router = KafkaRouter()

    @subscribe(router, runtime.settings, PROFILE_EVENTS)
    async def on_profile_event(event: ProfileCreated | ProfileUpdated | ProfileDeactivated) -> None:
        snapshot = event.payload.snapshot if isinstance(event, ProfileDeactivated) else event.payload
        await dispatcher.contacts.remember(snapshot)
        await dispatcher.on_contact_known(snapshot.person_id)

    for spec in NOTIFIED_TOPICS:
        _notify_from(router, runtime, spec)
    return router


async def sweep(runtime: Runtime) -> None:
    dispatcher = dispatcher_of(runtime)
    # Keep going while a pass finds work, so a backlog drains at the rate limit rather than
    # one batch per period.
    while await dispatcher.sweep():
        pass


async def close_channels(runtime: Runtime) -> None:
    for adapter in dispatcher_of(runtime).adapters.values():
        await adapter.close()


definition = ServiceDefinition(
    name=SERVICE,
    settings_cls=NotificationSettings,
    build_router=build_router,
    ensure_indexes=ensure_indexes,
    consumes=(PROFILE_EVENTS, *NOTIFIED_TOPICS),
    publishes=(NOTIFICATION_EVENTS,),
    outbox_collections=("deliveries",),
    build_http=build_http,
    periodic=(
        PeriodicTask("deliveries due", lambda s: settings_as(s, NotificationSettings).sweep_seconds, sweep),
    ),
    on_stop=close_channels,
    description="Fan-out of what people should hear about to email, Slack, Teams and webhooks, once each.",
)
