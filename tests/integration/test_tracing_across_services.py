"""One trace from an HR system's onboarding event through profile, matching and notification,
carried in Kafka headers, also for a notification sent later by the sweep; and no trace
headers at all when tracing is left off."""

from __future__ import annotations

import json
from contextlib import AsyncExitStack
from typing import Any

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from contracts.catalogue import HR_EMPLOYEES, MATCHING_EVENTS, NOTIFICATION_EVENTS, PROFILE_EVENTS
from services.matching.app import MatchingSettings
from services.matching.app import definition as matching
from services.notification.app import definition as notification
from services.profile.app import ProfileSettings
from services.profile.app import definition as profile
from services.runtime.service import running
from services.runtime.settings import MongoSettings, ServiceSettings, TracingSettings
from tests.support.builders import onboarding_json
from tests.support.infrastructure import Infrastructure
from tests.support.kafka import Record, produce, wait_for_records
from tests.support.notices import proposal
from tests.support.notification import notification_service, notification_settings
from tests.support.services import settings_for
from tests.support.telemetry import consuming_spans, hex_trace_id, services_in_trace, trace_id_of


def traced(settings: ServiceSettings, database: str) -> dict[str, Any]:
    """Tracing on, and a database of the service's own (the namespace is shared)."""
    mongo = MongoSettings(url=settings.mongo.url, database=database)
    return {"tracing": TracingSettings(enabled=True), "mongo": mongo}


async def _onboard(infra: Infrastructure, topic: str, employee_id: str) -> dict[str, Any]:
    event = onboarding_json(employee_id)
    await produce(infra.kafka_bootstrap, topic, json.dumps(event).encode(), key=employee_id.encode())
    return event


async def _first(infra: Infrastructure, topic: str) -> Record:
    records = await wait_for_records(infra.kafka_bootstrap, topic, lambda found: len(found) >= 1, timeout=60)
    return records[0]


async def test_an_onboarding_followed_through_profile_matching_and_notification_is_one_trace(
    infrastructure: Infrastructure, namespace: str
) -> None:
    profile_settings = settings_for(ProfileSettings, infrastructure, namespace)
    matching_settings = settings_for(MatchingSettings, infrastructure, namespace)
    notification_base = notification_settings(infrastructure, namespace)
    services = [
        (profile, profile_settings.model_copy(update=traced(profile_settings, f"{namespace}-p"))),
        (matching, matching_settings.model_copy(update=traced(matching_settings, f"{namespace}-m"))),
        (notification, notification_base.model_copy(update=traced(notification_base, f"{namespace}-n"))),
    ]
    spans = {definition.name: InMemorySpanExporter() for definition, _ in services}
    async with AsyncExitStack() as stack:
        for definition, settings in services:
            exporter = spans[definition.name]
            await stack.enter_async_context(running(definition, settings, span_exporter=exporter))
        # A new hire while nobody mentors: matching waitlists them, notification tells them.
        event = await _onboard(infrastructure, profile_settings.topic(HR_EMPLOYEES.name), "NEW-TRACED")
        told = await _first(infrastructure, profile_settings.topic(NOTIFICATION_EVENTS.name))
    created = await _first(infrastructure, profile_settings.topic(PROFILE_EVENTS.name))
    waitlisted = await _first(infrastructure, profile_settings.topic(MATCHING_EVENTS.name))

    intake = consuming_spans(spans["profile"].get_finished_spans(), profile_settings.topic(HR_EMPLOYEES.name))
    trace_id = hex_trace_id(intake[0])
    all_spans = [span for exporter in spans.values() for span in exporter.get_finished_spans()]
    assert json.loads(told.value or b"")["type"] == "notification.delivered"
    assert json.loads(waitlisted.value or b"")["type"] == "matching.request_waitlisted"
    for record in (created, waitlisted, told):
        assert trace_id_of(record.headers["traceparent"]) == trace_id
        assert record.headers["correlation_id"] == event["event_id"]
    assert services_in_trace(all_spans, trace_id) == {
        "mentorship-profile",
        "mentorship-matching",
        "mentorship-notification",
    }


async def test_with_tracing_left_off_published_records_carry_no_trace_headers(
    infrastructure: Infrastructure, namespace: str
) -> None:
    settings = settings_for(ProfileSettings, infrastructure, namespace)
    async with running(profile, settings):
        event = await _onboard(infrastructure, settings.topic(HR_EMPLOYEES.name), "NEW-UNTRACED")
        created = await _first(infrastructure, settings.topic(PROFILE_EVENTS.name))

    assert "traceparent" not in created.headers
    assert "tracestate" not in created.headers
    assert created.headers["correlation_id"] == event["event_id"]


async def test_a_notification_sent_later_by_the_sweep_continues_the_trace_of_its_cause(
    infrastructure: Infrastructure, namespace: str
) -> None:
    cause_trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    tracing = TracingSettings(enabled=True)
    async with notification_service(
        infrastructure, namespace, span_exporter=InMemorySpanExporter(), tracing=tracing
    ) as notification:
        await notification.profiles(
            notification.person("CARA", channels=("slack",)), notification.person("DEV", channels=())
        )
        # The first call fails: the message goes out on a later sweep, outside any handler.
        notification.receiver.respond(notification.hook("CARA", "slack"), 500, 200)
        await notification.publish(
            proposal("DEV", "CARA"), headers={"traceparent": f"00-{cause_trace}-00f067aa0ba902b7-01"}
        )
        records = [await _first(infrastructure, notification.settings.topic(NOTIFICATION_EVENTS.name))]

    delivered = [r for r in records if json.loads(r.value or b"")["type"] == "notification.delivered"]
    assert [json.loads(r.value or b"")["payload"]["attempts"] for r in delivered] == [2]
    assert trace_id_of(delivered[0].headers["traceparent"]) == cause_trace
