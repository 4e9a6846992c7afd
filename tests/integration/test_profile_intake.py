"""Profile intake on the real stack: an onboarding event becomes a stored profile
and a profile.created event; bad input lands in the dead-letter topic while good input keeps
flowing; a redelivered event changes nothing twice."""

from __future__ import annotations

import json
from typing import Any

from pymongo import AsyncMongoClient

from contracts.catalogue import HR_EMPLOYEES, PROFILE_EVENTS
from services.profile.app import ProfileSettings, definition
from services.runtime.service import running
from tests.support.builders import onboarding_json
from tests.support.infrastructure import Infrastructure
from tests.support.kafka import produce, read_all, wait_for_records
from tests.support.services import settings_for


async def _profile(infra: Infrastructure, database: str, person_id: str) -> dict[str, Any] | None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo_url)
    try:
        return await client[database]["profiles"].find_one({"_id": person_id})
    finally:
        await client.close()


async def _send(infra: Infrastructure, topic: str, body: dict[str, object] | bytes, key: str) -> None:
    value = body if isinstance(body, bytes) else json.dumps(body).encode()
    await produce(infra.kafka_bootstrap, topic, value, key=key.encode())


async def test_an_onboarded_employee_gets_a_profile_and_a_profile_created_event(
    infrastructure: Infrastructure, namespace: str
) -> None:
    settings = settings_for(ProfileSettings, infrastructure, namespace)
    event = onboarding_json("E100")
    async with running(definition, settings):
        await _send(infrastructure, settings.topic(HR_EMPLOYEES.name), event, "E100")
        records = await wait_for_records(
            infrastructure.kafka_bootstrap, settings.topic(PROFILE_EVENTS.name), lambda r: len(r) >= 1
        )
    # Read after the service stopped: stopping waits for the handler to finish.
    stored = await _profile(infrastructure, namespace, "E100")

    created = json.loads(records[0].value or b"")
    assert created["type"] == "profile.created"
    assert created["payload"]["person_id"] == "E100"
    assert created["payload"]["programmes"] == ["onboarding"]
    assert created["correlation_id"] == event["event_id"]
    assert created["causation_id"] == event["event_id"]
    assert records[0].key == b"E100"
    assert records[0].headers["event_type"] == "profile.created"
    assert stored is not None
    assert stored["snapshot"]["time_zone"] == "Europe/Berlin"
    assert stored["_outbox"] == []


async def test_a_poison_message_goes_to_the_dead_letter_topic_and_the_next_message_is_still_processed(
    infrastructure: Infrastructure, namespace: str
) -> None:
    settings = settings_for(ProfileSettings, infrastructure, namespace)
    topic = settings.topic(HR_EMPLOYEES.name)
    async with running(definition, settings):
        await _send(infrastructure, topic, b'{"event_id": "broken", "type": "employee.onb', "E200")
        await _send(infrastructure, topic, onboarding_json("E200"), "E200")
        dead = await wait_for_records(infrastructure.kafka_bootstrap, f"{topic}.dlq", lambda r: len(r) >= 1)
        await wait_for_records(
            infrastructure.kafka_bootstrap, settings.topic(PROFILE_EVENTS.name), lambda r: len(r) >= 1
        )

    assert dead[0].value == b'{"event_id": "broken", "type": "employee.onb'
    assert dead[0].key == b"E200"
    assert "Invalid JSON" in dead[0].headers["dlq.reason"]
    assert dead[0].headers["dlq.permanent"] == "true"
    assert dead[0].headers["dlq.original_topic"] == topic


async def test_a_message_that_breaks_the_schema_is_dead_lettered_with_the_field_named(
    infrastructure: Infrastructure, namespace: str
) -> None:
    settings = settings_for(ProfileSettings, infrastructure, namespace)
    topic = settings.topic(HR_EMPLOYEES.name)
    invalid = onboarding_json("E300", work_email="not-an-email", time_zone="Mars/Olympus_Mons")
    async with running(definition, settings) as runtime:
        await _send(infrastructure, topic, invalid, "E300")
        await _send(infrastructure, topic, onboarding_json("E301"), "E301")
        dead = await wait_for_records(infrastructure.kafka_bootstrap, f"{topic}.dlq", lambda r: len(r) >= 1)
        await wait_for_records(
            infrastructure.kafka_bootstrap, settings.topic(PROFILE_EVENTS.name), lambda r: len(r) >= 1
        )
        assert await runtime.db["profiles"].find_one({"_id": "E300"}) is None
        assert await runtime.db["profiles"].find_one({"_id": "E301"}) is not None

    reason = dead[0].headers["dlq.reason"]
    assert "payload.work_email" in reason
    assert "payload.time_zone" in reason
    assert "not-an-email" not in reason  # input values may be personal data


async def test_a_redelivered_onboarding_event_creates_one_profile_and_one_event(
    infrastructure: Infrastructure, namespace: str
) -> None:
    settings = settings_for(ProfileSettings, infrastructure, namespace)
    topic = settings.topic(HR_EMPLOYEES.name)
    event = onboarding_json("E400")
    async with running(definition, settings):
        await _send(infrastructure, topic, event, "E400")
        await _send(infrastructure, topic, event, "E400")
        # Same key, so same partition: once this sentinel is dead-lettered, both copies above
        # have been handled.
        await _send(infrastructure, topic, b"sentinel", "E400")
        await wait_for_records(infrastructure.kafka_bootstrap, f"{topic}.dlq", lambda r: len(r) >= 1)
    stored = await _profile(infrastructure, namespace, "E400")

    created = await read_all(infrastructure.kafka_bootstrap, settings.topic(PROFILE_EVENTS.name))
    assert len(created) == 1
    assert stored is not None
    assert stored["revision"] == 1
    assert stored["_processed"] == [event["event_id"]]


async def test_messages_left_in_an_outbox_by_a_crash_are_sent_when_the_service_starts(
    infrastructure: Infrastructure, namespace: str
) -> None:
    settings = settings_for(ProfileSettings, infrastructure, namespace)
    pending = {
        "event_id": "pending-1",
        "topic": PROFILE_EVENTS.name,
        "key": "E500",
        "headers": {"event_type": "profile.created"},
        "value": '{"recovered": true}',
    }
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infrastructure.mongo_url)
    await client[namespace]["profiles"].insert_one({"_id": "E500", "_outbox": [pending]})
    await client.close()
    async with running(definition, settings):
        records = await wait_for_records(
            infrastructure.kafka_bootstrap, settings.topic(PROFILE_EVENTS.name), lambda r: len(r) >= 1
        )
    left = await _profile(infrastructure, namespace, "E500")

    assert records[0].value == b'{"recovered": true}'
    assert left is not None
    assert left["_outbox"] == []
