"""Notification's recurring work costs what is due, not what was ever sent: the sweep finds
attempts cut off by a crash among the few under way, never by reading the delivery log, and a
profile event costs one lookup by id when nothing waits for the person. On the real stack:
FerretDB, Kafka, and a real HTTP receiver for the webhook channel."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from pymongo import AsyncMongoClient

from contracts.catalogue import MATCHING_EVENTS
from contracts.matching import MatchProposed
from contracts.profile import Channel
from deploy.local.chat_receiver import running_receiver
from services.notification.delivery import Dispatcher
from services.runtime.mongo import Document
from tests.support.infrastructure import Infrastructure
from tests.support.mongo_commands import CommandLog
from tests.support.notices import proposal
from tests.support.notification import Notification, StalledWebhook, fill_log, notification_service
from tests.support.waiting import eventually

FINISHED = 2_000


async def _cut_off_mid_send(notification: Notification, event: MatchProposed) -> None:
    """Another instance handles ``event`` and stops (as if killed) while its sends are under way."""
    stalled = notification.another_instance(adapters={Channel.WEBHOOK: StalledWebhook()})
    handling = asyncio.create_task(stalled.on_event(event, MATCHING_EVENTS.name))
    await notification.wait_for_deliveries(1, recipient_id=event.payload.mentee_id, state="sending")
    handling.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await handling


@contextlib.asynccontextmanager
async def _watched(notification: Notification) -> AsyncIterator[tuple[Dispatcher, CommandLog]]:
    """An instance on a client of its own, with every command it sends recorded."""
    commands = CommandLog()
    client = AsyncMongoClient[Document](
        notification.infra.mongo_url, event_listeners=[commands], tz_aware=True
    )
    try:
        yield notification.another_instance(db=client[notification.db.name]), commands
    finally:
        await client.close()


async def _in_flight(notification: Notification) -> list[dict[str, Any]]:
    return [doc async for doc in notification.db["in_flight"].find({})]


async def test_an_attempt_cut_off_mid_send_is_found_by_the_sweep_and_reaches_the_person_once(
    infrastructure: Infrastructure, namespace: str
) -> None:
    async with notification_service(infrastructure, namespace, in_doubt_after_seconds=1) as notification:
        await notification.profiles(
            notification.person("ROSA", channels=("webhook",)), notification.person("SAM", channels=())
        )
        await _cut_off_mid_send(notification, proposal("SAM", "ROSA"))
        assert [entry["_id"] for entry in await _in_flight(notification)] == [
            doc["_id"] for doc in await notification.deliveries(recipient_id="ROSA")
        ], "the attempt under way is noted where the sweep looks"

        received = await notification.chat("ROSA", "webhook", 1)
        (delivered,) = await notification.wait_for_deliveries(1, recipient_id="ROSA", state="sent")
        await eventually(lambda: _nothing_in_flight(notification), what="no attempt left under way")
        await asyncio.sleep(1.5)  # a further in-doubt period: nothing else goes out

    assert received[0]["template"] == "match_proposed"
    assert len(notification.receiver.on(notification.hook("ROSA", "webhook"))) == 1
    assert delivered["attempts"] == 2


async def _nothing_in_flight(notification: Notification) -> bool:
    return await notification.db["in_flight"].count_documents({}) == 0


async def test_the_sweep_finds_a_cut_off_attempt_among_thousands_of_sent_ones_reading_the_log_only_by_id(
    infrastructure: Infrastructure, namespace: str
) -> None:
    # The service's own sweep stays idle: the watched instance does the sweeping.
    async with notification_service(
        infrastructure, namespace, in_doubt_after_seconds=1, sweep_seconds=3600
    ) as notification:
        await notification.profiles(
            notification.person("ROSA", channels=("webhook",)), notification.person("SAM", channels=())
        )
        await fill_log(notification.db, FINISHED, datetime.now(UTC))
        await _cut_off_mid_send(notification, proposal("SAM", "ROSA"))
        await asyncio.sleep(1.2)  # past the in-doubt time
        async with _watched(notification) as (instance, commands):
            await instance.sweep()  # finds the attempt cut off and puts it back on the schedule
            await instance.sweep()  # sends it
        await notification.chat("ROSA", "webhook", 1)
        (delivered,) = await notification.deliveries(recipient_id="ROSA")
        left_in_flight = await _in_flight(notification)

    assert delivered["state"] == "sent"
    assert len(notification.receiver.on(notification.hook("ROSA", "webhook"))) == 1
    on_log = commands.on("deliveries")
    assert on_log, "the sweep looked the cut-off delivery up"
    assert all(command.by_id for command in on_log), [c for c in on_log if not c.by_id]
    assert left_in_flight == []


async def test_a_notice_parked_for_a_missing_profile_is_delivered_once_it_arrives_and_nothing_stays_parked(
    infrastructure: Infrastructure, namespace: str
) -> None:
    async with notification_service(infrastructure, namespace) as notification:
        await notification.profiles(notification.person("GIL", channels=()))
        await notification.publish(proposal("GIL", "HAL"))
        await eventually(lambda: _listed_as_waiting(notification, "HAL"), what="HAL's notice parked")

        await notification.profiles(notification.person("HAL", channels=("webhook",)))
        received = await notification.chat("HAL", "webhook", 1)
        await eventually(lambda: _nothing_parked(notification), what="nothing parked any more")
        await notification.profiles(notification.person("HAL", channels=("webhook",), revision=2))

    assert received[0]["template"] == "match_proposed"
    assert len(notification.receiver.on(notification.hook("HAL", "webhook"))) == 1


async def _listed_as_waiting(notification: Notification, person_id: str) -> bool:
    return await notification.db["parked_people"].find_one({"_id": person_id}) is not None


async def _nothing_parked(notification: Notification) -> bool:
    db = notification.db
    return await db["parked"].count_documents({}) + await db["parked_people"].count_documents({}) == 0


async def test_a_profile_for_someone_with_nothing_parked_costs_one_lookup_by_id_however_much_waits_for_others(
    infrastructure: Infrastructure, namespace: str
) -> None:
    async with notification_service(infrastructure, namespace) as notification:
        async with _watched(notification) as (instance, commands):
            for n in range(15):
                await instance.on_event(proposal(f"NEW{n}A", f"NEW{n}B"), MATCHING_EVENTS.name)
            commands.clear()
            await instance.on_contact_known("NOBODY")
            nothing = list(commands.commands)

            await instance.contacts.remember(notification.person("NEW3B", channels=("webhook",)))
            commands.clear()
            await instance.on_contact_known("NEW3B")
            released = commands.on("parked_people") + commands.on("parked")
        await notification.chat("NEW3B", "webhook", 1)
        still_parked = await notification.db["parked"].count_documents({})

    assert [(c.name, c.collection, c.filters) for c in nothing] == [
        ("find", "parked_people", ({"_id": "NOBODY"},))
    ]
    assert released, "the parked notice was looked up and removed"
    assert all(c.by_id for c in released), [c for c in released if not c.by_id]
    assert still_parked == 29


async def test_attempts_and_parked_notices_an_earlier_version_left_are_found_after_an_upgrade(
    infrastructure: Infrastructure, namespace: str
) -> None:
    async with running_receiver() as receiver:
        async with notification_service(
            infrastructure, namespace, receiver=receiver, sweep_seconds=3600
        ) as earlier:
            await earlier.profiles(
                earlier.person("ROSA", channels=("webhook",)), earlier.person("SAM", channels=())
            )
            await _cut_off_mid_send(earlier, proposal("SAM", "ROSA"))
            await earlier.another_instance().on_event(proposal("SAM", "HAL"), MATCHING_EVENTS.name)
            # An earlier version kept no notes of attempts under way or of who has notices parked.
            await earlier.db["in_flight"].drop()
            await earlier.db["parked_people"].drop()

        async with notification_service(
            infrastructure, namespace, receiver=receiver, in_doubt_after_seconds=1
        ) as upgraded:
            rosa = await upgraded.chat("ROSA", "webhook", 1)
            await upgraded.profiles(upgraded.person("HAL", channels=("webhook",)))
            hal = await upgraded.chat("HAL", "webhook", 1)
            await asyncio.sleep(1.5)  # a further in-doubt period: nothing else goes out

    assert [rosa[0]["template"], hal[0]["template"]] == ["match_proposed", "match_proposed"]
    assert len(receiver.on(upgraded.hook("ROSA", "webhook"))) == 1
    assert len(receiver.on(upgraded.hook("HAL", "webhook"))) == 1
