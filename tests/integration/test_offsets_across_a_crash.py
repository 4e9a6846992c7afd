"""A service killed (SIGKILL) in the middle of a stream: the offsets it had committed cover only
messages it had handled, and once started again it handles every message, publishing each
follow-up event with the same event id however often its cause was handled."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient

from contracts.catalogue import HR_EMPLOYEES, PROFILE_EVENTS
from tests.e2e.processes import service_process
from tests.support.builders import onboarding_json
from tests.support.infrastructure import Infrastructure
from tests.support.kafka import Record, committed_offsets, read_all
from tests.support.waiting import eventually

PEOPLE = 600


async def _send_onboardings(bootstrap: str, topic: str, people: list[str]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        sent = [
            await producer.send(topic, json.dumps(onboarding_json(person)).encode(), key=person.encode())
            for person in people
        ]
        for future in sent:
            await future
    finally:
        await producer.stop()


async def _stored(infra: Infrastructure, database: str) -> set[str]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo_url)
    try:
        return {doc["_id"] async for doc in client[database]["profiles"].find({}, {"_id": 1})}
    finally:
        await client.close()


def _key(record: Record) -> str:
    return (record.key or b"").decode()


async def _creations(bootstrap: str, topic: str) -> dict[str, set[str]]:
    """The event ids of profile.created per person, as published so far."""
    by_person: dict[str, set[str]] = {}
    for record in await read_all(bootstrap, topic):
        if record.headers["event_type"] == "profile.created":
            by_person.setdefault(_key(record), set()).add(record.headers["event_id"])
    return by_person


async def test_a_service_killed_mid_stream_had_committed_only_handled_messages_and_loses_none(
    infrastructure: Infrastructure, namespace: str, tmp_path: Path
) -> None:
    bootstrap = infrastructure.kafka_bootstrap
    inbound, outbound = f"{namespace}.{HR_EMPLOYEES.name}", f"{namespace}.{PROFILE_EVENTS.name}"
    database, group = f"{namespace}_profile", f"{namespace}.profile"
    people = [f"K{i:04d}" for i in range(PEOPLE)]

    async with service_process("profile", infrastructure, namespace, tmp_path) as first:
        await _send_onboardings(bootstrap, inbound, people)

        async def under_way() -> bool:
            return len(await _stored(infrastructure, database)) >= PEOPLE // 6

        await eventually(under_way, timeout=120, what="the stream under way")
        first.process.kill()
        first.process.wait()
    stored_at_kill = await _stored(infrastructure, database)
    committed = await committed_offsets(bootstrap, group, inbound)
    sent = await read_all(bootstrap, inbound)

    assert len(stored_at_kill) < PEOPLE, "the kill landed after the stream: nothing was tested"
    assert sum(committed.values()) > 0, "nothing was committed before the kill: nothing was tested"
    committed_but_not_handled = [
        key for r in sent if r.offset < committed[r.partition] and (key := _key(r)) not in stored_at_kill
    ]
    assert committed_but_not_handled == []

    async with service_process("profile", infrastructure, namespace, tmp_path):

        async def all_created() -> bool:
            return len(await _creations(bootstrap, outbound)) == PEOPLE

        await eventually(all_created, timeout=240, what="every profile.created after the restart")
    by_person = await _creations(bootstrap, outbound)

    assert sorted(by_person) == people
    assert await _stored(infrastructure, database) == set(people)
    assert all(len(ids) == 1 for ids in by_person.values()), "a person's creation was published twice"
