"""Observability without servers: how the dead-letter middleware reports outcomes, what the
metrics registry shows, how trace context is kept in outbox entries, and the settings."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, cast

import pytest
from faststream._internal.context.repository import ContextRepo
from faststream.kafka import KafkaBroker
from faststream.message import StreamMessage
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from contracts.profile import ProfileCreated
from services.profile.app import ProfileSettings
from services.runtime.dead_letter import DeadLetterMiddleware, Outcome
from services.runtime.errors import UnprocessableMessage
from services.runtime.metrics import ServiceMetrics
from services.runtime.outbox import outbox_entries
from services.runtime.settings import RetrySettings, ServiceSettings, TracingSettings
from services.runtime.tracing import (
    SpanOutcomes,
    console_exporter,
    continuing,
    shut_down,
    trace_headers,
    tracer_provider,
)
from tests.support.matching import snapshot
from tests.support.telemetry import metric, trace_id_of

TOPIC = "hr.employees.v1"


@dataclass
class Heard:
    """A handling observer that writes down what it is told."""

    attempts: list[str | None] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)

    def attempt_finished(self, topic: str, seconds: float, error: BaseException | None) -> None:
        assert topic == TOPIC
        assert seconds >= 0
        self.attempts.append(type(error).__name__ if error else None)

    def message_finished(self, topic: str, outcome: Outcome, error: BaseException | None) -> None:
        self.outcomes.append(outcome)


class DeadLetterBroker:
    def __init__(self) -> None:
        self.dead_letters: list[str] = []

    async def publish(self, value: bytes, *, topic: str, key: bytes | None, headers: dict[str, str]) -> None:
        self.dead_letters.append(topic)


def _record() -> Any:
    return SimpleNamespace(topic=TOPIC, partition=0, offset=7, key=b"E1", value=b"{}", headers=[])


async def _handle(failures: int, max_attempts: int, error: Exception, heard: Heard) -> DeadLetterBroker:
    broker = DeadLetterBroker()
    retry = RetrySettings(max_attempts=max_attempts, backoff_initial_seconds=0, backoff_max_seconds=0)
    middleware_cls = DeadLetterMiddleware.with_policy(retry, "profile", (heard,))
    middleware = middleware_cls(None, context=ContextRepo({"broker": broker}))
    calls = 0

    async def handler(_msg: StreamMessage[Any]) -> str:
        nonlocal calls
        calls += 1
        if calls <= failures:
            raise error
        return "handled"

    message = cast(StreamMessage[Any], SimpleNamespace(raw_message=_record()))
    await middleware.consume_scope(handler, message)
    return broker


@settings(max_examples=40, deadline=None)
@given(failures=st.integers(min_value=0, max_value=8), max_attempts=st.integers(min_value=1, max_value=5))
async def test_each_message_ends_once_as_ok_retried_or_dead_lettered_and_every_attempt_is_heard(
    failures: int, max_attempts: int
) -> None:
    heard = Heard()
    broker = await _handle(failures, max_attempts, ConnectionError("down"), heard)

    attempts = min(failures + 1, max_attempts)
    expected: Outcome = "ok" if failures == 0 else "retried" if failures < max_attempts else "dead_lettered"
    assert heard.outcomes == [expected]
    assert len(heard.attempts) == attempts
    assert heard.attempts.count("ConnectionError") == min(failures, max_attempts)
    assert broker.dead_letters == ([f"{TOPIC}.dlq"] if expected == "dead_lettered" else [])


async def test_a_permanent_failure_is_dead_lettered_after_one_heard_attempt() -> None:
    heard = Heard()
    await _handle(5, 4, UnprocessableMessage("unknown person"), heard)

    assert heard.attempts == ["UnprocessableMessage"]
    assert heard.outcomes == ["dead_lettered"]


async def test_the_metrics_page_starts_every_outcome_of_a_consumed_topic_at_zero_per_runtime() -> None:
    first, second = ServiceMetrics("profile"), ServiceMetrics("profile")  # two runtimes, one process
    first.expect_topics([TOPIC])
    first.message_finished(TOPIC, "dead_lettered", ConnectionError())
    first.attempt_finished(TOPIC, 0.02, ConnectionError())
    first.notification("email", "delivered")

    page = (await first.exposition(KafkaBroker())).decode()
    other = (await second.exposition(KafkaBroker())).decode()

    assert metric(page, "mentorship_messages_processed_total", topic=TOPIC, outcome="ok") == 0
    assert metric(page, "mentorship_messages_processed_total", topic=TOPIC, outcome="dead_lettered") == 1
    assert metric(page, "mentorship_handler_failures_total", topic=TOPIC, error_type="ConnectionError") == 1
    assert metric(page, "mentorship_handler_duration_seconds_bucket", topic=TOPIC, le="0.025") == 1
    assert metric(page, "mentorship_notifications_total", channel="email", outcome="delivered") == 1
    assert metric(other, "mentorship_messages_processed_total", topic=TOPIC) is None


def _created() -> ProfileCreated:
    return ProfileCreated.create(snapshot("P1"), source="profile")


def test_outside_any_span_there_are_no_trace_headers_and_outbox_entries_carry_none() -> None:
    assert trace_headers() == {}
    assert "traceparent" not in outbox_entries([_created()])[0]["headers"]


async def test_an_outbox_entry_written_while_handling_keeps_the_handlers_trace() -> None:
    provider = tracer_provider(ServiceSettings(tracing=TracingSettings(enabled=True)), InMemorySpanExporter())
    try:
        with provider.get_tracer("test").start_as_current_span("handling") as span:
            headers = outbox_entries([_created()])[0]["headers"]
    finally:
        await shut_down(provider)

    assert trace_id_of(headers["traceparent"]) == f"{span.get_span_context().trace_id:032x}"
    assert headers["event_type"] == "profile.created"


def test_stored_trace_headers_become_the_current_trace_for_a_later_publish_and_are_let_go_after() -> None:
    stored = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
    with continuing(stored):
        inside = trace.get_current_span().get_span_context()
    after = trace.get_current_span().get_span_context()
    with continuing({"event_id": "no trace here"}):
        untouched = trace.get_current_span().get_span_context()

    assert f"{inside.trace_id:032x}" == "0af7651916cd43dd8448eb211c80319c"
    assert inside.is_remote
    assert not after.is_valid
    assert not untouched.is_valid


def test_metrics_and_tracing_are_off_unless_switched_on_per_service_or_platform(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert not ProfileSettings().metrics.enabled
    assert not ProfileSettings().tracing.enabled
    monkeypatch.setenv("PROFILE_METRICS__ENABLED", "true")
    monkeypatch.setenv("MENTORSHIP_TRACING__ENABLED", "true")
    monkeypatch.setenv("MENTORSHIP_TRACING__EXPORTER", "console")
    switched = ProfileSettings()

    assert switched.metrics.enabled
    assert switched.tracing.enabled
    assert switched.tracing.exporter == "console"


def test_a_dead_lettered_message_marks_its_span_as_an_error_naming_only_the_error_type() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    outcomes = SpanOutcomes()
    with provider.get_tracer("test").start_as_current_span("consuming"):
        outcomes.attempt_finished(TOPIC, 0.01, ValueError("ada@example.com is not allowed"))
        outcomes.message_finished(TOPIC, "dead_lettered", ValueError("ada@example.com is not allowed"))
    span = exporter.get_finished_spans()[0]

    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes is not None
    assert span.attributes["mentorship.outcome"] == "dead_lettered"
    assert [event.attributes for event in span.events] == [{"exception.type": "ValueError"}]
    assert "ada@example.com" not in repr(span.to_json())


def test_the_console_exporter_writes_one_json_line_per_span_even_with_a_kafka_key_in_bytes() -> None:
    out = io.StringIO()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(console_exporter(out)))
    with provider.get_tracer("test").start_as_current_span("hr.employees.v1 process") as parent:
        span = provider.get_tracer("test").start_span("profile.events.v1 publish")
        span.set_attribute("messaging.kafka.message.key", b"E1")
        span.end()
    lines = [json.loads(line) for line in out.getvalue().splitlines()]

    assert [line["span"] for line in lines] == ["profile.events.v1 publish", "hr.employees.v1 process"]
    assert lines[0]["attributes"]["messaging.kafka.message.key"] == "E1"
    assert lines[0]["parent_id"] == f"{parent.get_span_context().span_id:016x}"
    assert lines[0]["trace_id"] == lines[1]["trace_id"]
