"""Killing the notification service (SIGKILL) in the middle of a burst and starting it again
sends nobody anything twice: every delivery ends delivered once, or, if the kill landed between
sending and confirming, held as in doubt rather than sent again."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from pymongo import AsyncMongoClient

from contracts.catalogue import topic_of
from contracts.envelope import Envelope
from contracts.matching import MatchProposed
from contracts.profile import ProfileCreated, ProfileSnapshot
from deploy.local.chat_receiver import running_receiver
from tests.e2e.processes import service_process
from tests.support.infrastructure import Infrastructure
from tests.support.kafka import produce
from tests.support.mailpit import Mailpit
from tests.support.notices import proposal
from tests.support.waiting import eventually

PAIRS = 20


def _person(person_id: str, namespace: str, hook: str) -> ProfileSnapshot:
    return ProfileSnapshot.model_validate(
        {
            "person_id": person_id,
            "revision": 1,
            "status": "active",
            "display_name": f"{person_id} Example",
            "email": f"{person_id.lower()}.{namespace}@example.com",
            "time_zone": "Europe/Lisbon",
            "contact": {"channels": ["email", "webhook"], "webhook_url": hook},
        }
    )


async def _send(infra: Infrastructure, namespace: str, event: Envelope) -> None:
    await produce(
        infra.kafka_bootstrap,
        f"{namespace}.{topic_of(type(event)).name}",
        event.to_json_bytes(),
        key=event.subject.encode(),
        headers=event.headers(),
    )


async def test_a_kill_and_restart_mid_burst_sends_nothing_twice(
    infrastructure: Infrastructure, namespace: str, tmp_path: Path
) -> None:
    env = {
        "NOTIFICATION_SMTP__HOST": infrastructure.smtp_host,
        "NOTIFICATION_SMTP__PORT": str(infrastructure.smtp_port),
        "NOTIFICATION_SWEEP_SECONDS": "0.2",
        "NOTIFICATION_RATE_LIMITS_PER_SECOND": "{}",
        "NOTIFICATION_IN_DOUBT_AFTER_SECONDS": "3",
    }
    people = [f"P{i:02d}" for i in range(2 * PAIRS)]
    async with running_receiver() as receiver:
        async with service_process("notification", infrastructure, namespace, tmp_path, env) as first:
            for person_id in people:
                snapshot = _person(person_id, namespace, receiver.url(f"/{namespace}/{person_id}"))
                await _send(infrastructure, namespace, ProfileCreated.create(snapshot, source="profile"))
            for i in range(PAIRS):
                await _send(infrastructure, namespace, proposal(people[2 * i], people[2 * i + 1]))
            await eventually(lambda: len(receiver.received) >= PAIRS // 2, what="the burst under way")
            first.process.kill()
            first.process.wait()
        killed_at = len(receiver.received)

        async with service_process("notification", infrastructure, namespace, tmp_path, env):
            db = AsyncMongoClient[dict[str, Any]](infrastructure.mongo_url)[f"{namespace}_notification"]
            expected = 2 * len(people)

            async def all_settled() -> bool:
                final = await db["deliveries"].count_documents({"state": {"$in": ["sent", "in_doubt"]}})
                return final == expected

            await eventually(all_settled, timeout=90, what="every delivery sent or held in doubt")
            states = Counter([doc["state"] async for doc in db["deliveries"].find({}, {"state": 1})])

    assert killed_at < len(people), "the kill landed after the burst: nothing was tested"
    webhook_calls = Counter(d.path for d in receiver.received)
    assert max(webhook_calls.values()) == 1, f"a webhook got a second message: {webhook_calls.most_common(3)}"
    mailpit = Mailpit(infrastructure.mailpit_api)
    for person_id in people:
        assert len(await mailpit.inbox(f"{person_id.lower()}.{namespace}@example.com")) <= 1
    # Each delivery reached its person once, or (only if the kill fell between sending and
    # confirming) was held: at most one such delivery per channel send in flight at the kill,
    # which is one proposal (two people, two channels each) per partition handled side by side.
    assert states["sent"] + states["in_doubt"] == expected
    assert states["in_doubt"] <= 4 * topic_of(MatchProposed).partitions
    delivered_webhooks = sum(webhook_calls.values())
    assert delivered_webhooks >= len(people) - states["in_doubt"]
