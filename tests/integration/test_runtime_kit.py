"""The runtime kit on the real stack: retries, dead letters, health and AsyncAPI."""

from __future__ import annotations

import json
from collections import Counter

import httpx
import pytest
from faststream.kafka import KafkaRouter
from pymongo.asynchronous.database import AsyncDatabase

from contracts.catalogue import HR_EMPLOYEES
from contracts.inbound import HrEmployeeEvent
from services.runtime.broker import subscribe
from services.runtime.service import KafkaUnreachable, Runtime, ServiceDefinition, create_app, running
from services.runtime.settings import ServiceSettings
from tests.support.builders import onboarding_json
from tests.support.infrastructure import Infrastructure
from tests.support.kafka import produce, wait_for_records
from tests.support.services import settings_for
from tests.support.waiting import eventually


class FlakySettings(ServiceSettings):
    service_name: str = "flaky"


async def _no_indexes(db: AsyncDatabase[dict[str, object]]) -> None:
    return None


def flaky_service(failures_before_success: dict[str, int], calls: Counter[str]) -> ServiceDefinition:
    """A service whose handler fails a set number of times per employee, then succeeds."""

    def build_router(runtime: Runtime) -> KafkaRouter:
        router = KafkaRouter()

        @subscribe(router, runtime.settings, HR_EMPLOYEES)
        async def handle(event: HrEmployeeEvent) -> None:
            calls[event.subject] += 1
            if calls[event.subject] <= failures_before_success.get(event.subject, 0):
                raise ConnectionError("downstream unavailable")
            await runtime.db["seen"].insert_one({"_id": event.event_id})

        return router

    return ServiceDefinition(
        name="flaky",
        settings_cls=FlakySettings,
        build_router=build_router,
        ensure_indexes=_no_indexes,
        consumes=(HR_EMPLOYEES,),
    )


async def _send(infra: Infrastructure, topic: str, employee_id: str) -> dict[str, object]:
    event = onboarding_json(employee_id)
    await produce(infra.kafka_bootstrap, topic, json.dumps(event).encode(), key=employee_id.encode())
    return event


async def test_a_transient_failure_is_retried_and_the_message_then_succeeds(
    infrastructure: Infrastructure, namespace: str
) -> None:
    calls: Counter[str] = Counter()
    settings = settings_for(FlakySettings, infrastructure, namespace)  # three attempts
    topic = settings.topic(HR_EMPLOYEES.name)
    async with running(flaky_service({"E1": 2}, calls), settings) as runtime:
        event = await _send(infrastructure, topic, "E1")
        await _send(infrastructure, topic, "E1")  # ordered after the first on the same partition
        await wait_for_records(infrastructure.kafka_bootstrap, topic, lambda r: len(r) == 2)
        await eventually(lambda: calls["E1"] >= 4, what="both messages handled")
        seen = await runtime.db["seen"].find_one({"_id": event["event_id"]})

    assert seen is not None
    assert calls["E1"] == 4  # two failures, the success, then the second message


async def test_a_message_that_keeps_failing_is_dead_lettered_after_the_last_attempt(
    infrastructure: Infrastructure, namespace: str
) -> None:
    calls: Counter[str] = Counter()
    settings = settings_for(FlakySettings, infrastructure, namespace)
    topic = settings.topic(HR_EMPLOYEES.name)
    async with running(flaky_service({"E2": 100}, calls), settings) as runtime:
        failing = await _send(infrastructure, topic, "E2")
        following = await _send(infrastructure, topic, "E3")
        dead = await wait_for_records(infrastructure.kafka_bootstrap, f"{topic}.dlq", lambda r: len(r) == 1)
        await eventually(
            lambda: _stored(runtime, str(following["event_id"])), what="the next message handled"
        )

    assert calls["E2"] == 3
    assert json.loads(dead[0].value or b"")["event_id"] == failing["event_id"]
    assert dead[0].headers["dlq.attempts"] == "3"
    assert dead[0].headers["dlq.permanent"] == "false"
    assert dead[0].headers["dlq.error_type"] == "ConnectionError"
    assert dead[0].headers["dlq.service"] == "flaky"


async def test_readiness_reports_kafka_and_mongo_and_the_asyncapi_document_lists_the_subscriptions(
    infrastructure: Infrastructure, namespace: str
) -> None:
    settings = settings_for(FlakySettings, infrastructure, namespace)
    app = create_app(flaky_service({}, Counter()), settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
            live = await client.get("/health/live")
            ready = await client.get("/health/ready")
            asyncapi = await client.get("/asyncapi.json")

    assert live.status_code == 200
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"kafka": True, "mongo": True}
    document = asyncapi.json()
    assert document["asyncapi"].startswith("3.")
    assert any(settings.topic(HR_EMPLOYEES.name) in json.dumps(c) for c in document["channels"].values())


async def test_readiness_fails_when_the_database_is_unreachable(
    infrastructure: Infrastructure, namespace: str
) -> None:
    settings = settings_for(FlakySettings, infrastructure, namespace)
    app = create_app(flaky_service({}, Counter()), settings)
    async with app.router.lifespan_context(app):
        runtime: Runtime = app.state.runtime
        await runtime.mongo.close()  # as if the database went away
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://s") as client:
            ready = await client.get("/health/ready")

    assert ready.status_code == 503
    assert ready.json()["checks"]["mongo"] is False


async def _stored(runtime: Runtime, event_id: str) -> bool:
    return await runtime.db["seen"].find_one({"_id": event_id}) is not None


async def test_a_service_started_without_kafka_gives_up_after_its_timeout_naming_the_address(
    infrastructure: Infrastructure, namespace: str
) -> None:
    settings = settings_for(FlakySettings, infrastructure, namespace)
    settings.kafka.bootstrap_servers = "127.0.0.1:1"  # nothing listens on port 1
    with pytest.raises(KafkaUnreachable, match=r"127\.0\.0\.1:1 did not answer within 2s"):
        async with running(flaky_service({}, Counter()), settings, startup_timeout=2):
            pass
