"""Metrics and tracing of the runtime kit on the real stack: what ``/metrics`` shows after
messages were handled, retried and dead-lettered; consumer lag behind a slow handler; a
trace id that survives an outbox left behind by a crash; and nothing of it by default."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from faststream.kafka import KafkaRouter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pymongo.asynchronous.database import AsyncDatabase

from contracts.catalogue import HR_EMPLOYEES, PROFILE_EVENTS
from contracts.inbound import HrEmployeeEvent
from contracts.profile import ProfileCreated
from services.runtime import outbox
from services.runtime.broker import subscribe
from services.runtime.service import Runtime, ServiceDefinition, create_app, running
from services.runtime.settings import MetricsSettings, ServiceSettings, TracingSettings
from tests.support.builders import onboarding_json
from tests.support.infrastructure import Infrastructure
from tests.support.kafka import produce, wait_for_records
from tests.support.matching import snapshot
from tests.support.notices import proposal
from tests.support.notification import notification_service
from tests.support.services import settings_for
from tests.support.telemetry import consuming_spans, hex_trace_id, metric, trace_id_of
from tests.support.waiting import eventually


class ObservedSettings(ServiceSettings):
    service_name: str = "observed"


async def _no_indexes(db: AsyncDatabase[dict[str, object]]) -> None:
    return None


def failing_service(failures: dict[str, int], gate: asyncio.Event | None = None) -> ServiceDefinition:
    """Fails each employee's message a set number of times, then succeeds; with ``gate``,
    every handler call first waits for it to open."""
    calls: Counter[str] = Counter()

    def build_router(runtime: Runtime) -> KafkaRouter:
        router = KafkaRouter()

        @subscribe(router, runtime.settings, HR_EMPLOYEES)
        async def handle(event: HrEmployeeEvent) -> None:
            if gate is not None:
                await gate.wait()
            calls[event.subject] += 1
            if calls[event.subject] <= failures.get(event.subject, 0):
                raise ConnectionError("downstream unavailable")

        return router

    return ServiceDefinition(
        name="observed",
        settings_cls=ObservedSettings,
        build_router=build_router,
        ensure_indexes=_no_indexes,
        consumes=(HR_EMPLOYEES,),
    )


def outbox_service(*, crash_before_publishing: bool) -> ServiceDefinition:
    """Turns each onboarding into a profile event through the outbox; when it "crashes", it
    stops after the outbox write, as a process killed at that moment would."""

    def build_router(runtime: Runtime) -> KafkaRouter:
        router = KafkaRouter()

        @subscribe(router, runtime.settings, HR_EMPLOYEES)
        async def handle(event: HrEmployeeEvent) -> None:
            created = ProfileCreated.create(snapshot(event.subject), source="observed")
            entries = outbox.outbox_entries([created.model_copy(update={"correlation_id": event.event_id})])
            docs = runtime.db["docs"]
            written = {"$set": {outbox.OUTBOX_FIELD: entries}}
            await docs.update_one({"_id": event.subject}, written, upsert=True)
            if not crash_before_publishing:
                await outbox.deliver(docs, event.subject, runtime.publisher, entries)

        return router

    return ServiceDefinition(
        name="observed",
        settings_cls=ObservedSettings,
        build_router=build_router,
        ensure_indexes=_no_indexes,
        consumes=(HR_EMPLOYEES,),
        publishes=(PROFILE_EVENTS,),
        outbox_collections=("docs",),
    )


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://service") as client,
    ):
        yield client


async def _send(infra: Infrastructure, topic: str, employee_id: str) -> dict[str, object]:
    event = onboarding_json(employee_id)
    await produce(infra.kafka_bootstrap, topic, json.dumps(event).encode(), key=employee_id.encode())
    return event


def _with_metrics(infra: Infrastructure, namespace: str) -> ObservedSettings:
    settings = settings_for(ObservedSettings, infra, namespace)  # three attempts
    return settings.model_copy(update={"metrics": MetricsSettings(enabled=True)})


async def test_metrics_count_each_message_once_by_outcome_with_every_attempt_timed(
    infrastructure: Infrastructure, namespace: str
) -> None:
    settings = _with_metrics(infrastructure, namespace)
    topic = settings.topic(HR_EMPLOYEES.name)
    app = create_app(failing_service({"RETRIED": 1, "DEAD": 100}), settings)
    async with serving(app) as client:
        for employee in ("OK-1", "OK-2", "RETRIED", "DEAD"):
            await _send(infrastructure, topic, employee)
        await wait_for_records(infrastructure.kafka_bootstrap, f"{topic}.dlq", lambda r: len(r) == 1)

        async def page() -> str:
            return (await client.get("/metrics")).text

        async def all_four_counted() -> bool:
            text = await page()
            counted = [metric(text, "mentorship_messages_processed_total", topic=topic, outcome=o) for o in
                       ("ok", "retried", "dead_lettered")]  # fmt: skip
            return sum(c or 0 for c in counted) == 4

        await eventually(all_four_counted, what="four messages counted")
        response = await client.get("/metrics")

    text = response.text
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert metric(text, "mentorship_messages_processed_total", topic=topic, outcome="ok") == 2
    assert metric(text, "mentorship_messages_processed_total", topic=topic, outcome="retried") == 1
    assert metric(text, "mentorship_messages_processed_total", topic=topic, outcome="dead_lettered") == 1
    # One failure of RETRIED, three of DEAD; each of the seven attempts timed.
    assert metric(text, "mentorship_handler_failures_total", topic=topic, error_type="ConnectionError") == 4
    assert metric(text, "mentorship_handler_duration_seconds_count", topic=topic) == 7
    assert metric(text, "mentorship_handler_duration_seconds_bucket", topic=topic, le="+Inf") == 7
    # FastStream's own: each message received once, and the dead letter published.
    assert metric(text, "faststream_received_messages_total", handler=topic, app_name="observed") == 4
    published = metric(
        text, "faststream_published_messages_total", destination=f"{topic}.dlq", status="success"
    )
    assert published == 1


async def test_consumer_lag_shows_the_records_waiting_behind_a_slow_handler_and_drops_to_zero(
    infrastructure: Infrastructure, namespace: str
) -> None:
    settings = _with_metrics(infrastructure, namespace)
    topic = settings.topic(HR_EMPLOYEES.name)
    gate = asyncio.Event()
    app = create_app(failing_service({}, gate), settings)
    async with serving(app) as client:
        for _ in range(4):
            await _send(infrastructure, topic, "SAME-KEY")  # one partition, in order

        async def lag_is(expected: float) -> bool:
            text = (await client.get("/metrics")).text
            return metric(text, "mentorship_consumer_lag", topic=topic) == expected

        # The first record is in the handler, held at the gate; three wait behind it.
        await eventually(lambda: lag_is(3), what="a lag of three records")
        gate.set()
        await eventually(lambda: lag_is(0), what="the lag gone")


async def test_without_the_setting_there_is_no_metrics_page(
    infrastructure: Infrastructure, namespace: str
) -> None:
    settings = settings_for(ObservedSettings, infrastructure, namespace)
    async with serving(create_app(failing_service({}), settings)) as client:
        response = await client.get("/metrics")
        live = await client.get("/health/live")

    assert response.status_code == 404
    assert live.status_code == 200


async def test_a_message_published_from_an_outbox_after_a_crash_stays_in_the_trace_that_wrote_it(
    infrastructure: Infrastructure, namespace: str
) -> None:
    settings = settings_for(ObservedSettings, infrastructure, namespace).model_copy(
        update={"tracing": TracingSettings(enabled=True)}
    )
    hr_topic, profile_topic = settings.topic(HR_EMPLOYEES.name), settings.topic(PROFILE_EVENTS.name)
    before_crash, after_restart = InMemorySpanExporter(), InMemorySpanExporter()
    async with running(outbox_service(crash_before_publishing=True), settings, span_exporter=before_crash):
        event = await _send(infrastructure, hr_topic, "CRASHED")
        await eventually(
            lambda: bool(consuming_spans(before_crash.get_finished_spans(), hr_topic)), what="handled"
        )
    handled = consuming_spans(before_crash.get_finished_spans(), hr_topic)[0]

    # Restarted: the start-up sweep sends what the "crashed" handler left in its outbox.
    async with running(outbox_service(crash_before_publishing=False), settings, span_exporter=after_restart):
        records = await wait_for_records(infrastructure.kafka_bootstrap, profile_topic, lambda r: len(r) == 1)
    sweep_publish = [s for s in after_restart.get_finished_spans() if s.name == f"{profile_topic} publish"]

    assert trace_id_of(records[0].headers["traceparent"]) == hex_trace_id(handled)
    assert [hex_trace_id(s) for s in sweep_publish] == [hex_trace_id(handled)]
    assert records[0].headers["correlation_id"] == event["event_id"]


async def test_notification_metrics_count_deliveries_retries_and_failures_per_channel(
    infrastructure: Infrastructure, namespace: str
) -> None:
    enabled = MetricsSettings(enabled=True)
    async with notification_service(infrastructure, namespace, metrics=enabled) as notification:
        await notification.profiles(
            notification.person("MENTOR", channels=("email",)),
            notification.person("MENTEE", channels=("email", "slack", "webhook")),
        )
        notification.receiver.respond(notification.hook("MENTEE", "slack"), 500, 200)
        notification.receiver.respond(notification.hook("MENTEE", "webhook"), 400)
        await notification.publish(proposal("MENTOR", "MENTEE"))
        await notification.outcomes(4)  # two emails and the slack message delivered, the webhook failed
        metrics = notification.runtime.observability.metrics
        assert metrics is not None
        text = (await metrics.exposition(notification.runtime.broker)).decode()

    def counted(channel: str, outcome: str) -> float | None:
        return metric(text, "mentorship_notifications_total", channel=channel, outcome=outcome)

    assert counted("email", "delivered") == 2
    assert counted("slack", "retrying") == 1
    assert counted("slack", "delivered") == 1
    assert counted("webhook", "failed") == 1
    assert counted("webhook", "delivered") is None
