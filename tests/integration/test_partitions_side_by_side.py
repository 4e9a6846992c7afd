"""The runtime kit handles a topic's partitions side by side on the real stack: each key's messages
still in the order they were sent, and a replica joining mid-stream takes over partitions without
any message handled twice (the leaving owner commits what it finished before the hand-over)."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from contextlib import AsyncExitStack

from aiokafka import AIOKafkaProducer
from faststream.kafka import KafkaRouter
from pymongo.asynchronous.database import AsyncDatabase

from contracts.catalogue import HR_EMPLOYEES
from contracts.inbound import EmployeeOnboarded
from services.runtime.broker import subscribe
from services.runtime.service import Runtime, ServiceDefinition, running
from services.runtime.settings import ServiceSettings
from tests.support.builders import onboarding_json
from tests.support.infrastructure import Infrastructure
from tests.support.services import settings_for
from tests.support.waiting import eventually

KEYS = 30
PER_KEY = 20


class SequenceSettings(ServiceSettings):
    service_name: str = "sequence"


async def _no_indexes(db: AsyncDatabase[dict[str, object]]) -> None:
    return None


def recording_service(replica: str, handled_by: Counter[str]) -> ServiceDefinition:
    """Appends each message's sequence number to its key's document, slowly enough that a
    stream of a few hundred messages is still running when a second replica joins."""

    def build_router(runtime: Runtime) -> KafkaRouter:
        router = KafkaRouter()

        @subscribe(router, runtime.settings, HR_EMPLOYEES)
        async def record(event: EmployeeOnboarded) -> None:
            await asyncio.sleep(0.05)
            sequence = int(event.payload.title or "-1")
            await runtime.db["seen"].update_one(
                {"_id": event.subject}, {"$push": {"sequence": sequence}}, upsert=True
            )
            handled_by[replica] += 1

        return router

    return ServiceDefinition(
        name="sequence",
        settings_cls=SequenceSettings,
        build_router=build_router,
        ensure_indexes=_no_indexes,
        consumes=(HR_EMPLOYEES,),
    )


async def _send_in_rounds(bootstrap: str, topic: str) -> None:
    """Message n of every key, then message n + 1 of every key, and so on."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        sent = []
        for sequence in range(PER_KEY):
            for k in range(KEYS):
                key = f"S{k:03d}"
                body = json.dumps(onboarding_json(key, title=str(sequence))).encode()
                sent.append(await producer.send(topic, body, key=key.encode()))
        for future in sent:
            await future
    finally:
        await producer.stop()


async def test_a_replica_joining_mid_stream_leaves_every_key_in_order_and_nothing_handled_twice(
    infrastructure: Infrastructure, namespace: str
) -> None:
    settings = settings_for(SequenceSettings, infrastructure, namespace)
    handled_by: Counter[str] = Counter()
    async with AsyncExitStack() as replicas:
        first = await replicas.enter_async_context(running(recording_service("first", handled_by), settings))
        await _send_in_rounds(infrastructure.kafka_bootstrap, settings.topic(HR_EMPLOYEES.name))
        await eventually(lambda: handled_by["first"] >= 30, timeout=60, what="the stream under way")
        await replicas.enter_async_context(running(recording_service("second", handled_by), settings))
        await eventually(
            lambda: handled_by.total() >= KEYS * PER_KEY, timeout=180, what="every message handled"
        )
        sequences = {doc["_id"]: doc["sequence"] async for doc in first.db["seen"].find({})}

    assert handled_by["second"] > 0, "the second replica joined after the stream: nothing was tested"
    assert handled_by.total() == KEYS * PER_KEY
    assert sequences == {f"S{k:03d}": list(range(PER_KEY)) for k in range(KEYS)}
