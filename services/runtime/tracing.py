"""OpenTelemetry tracing: one trace across services, carried in Kafka headers (W3C).

FastStream's ``KafkaTelemetryMiddleware`` makes a span per consumed message (continuing the
``traceparent`` header it carries) and per publish (writing ``traceparent`` into the record).
Each service runtime has a tracer provider of its own, so services sharing a process keep
their own ``service.name`` and exporter, and nothing is set globally.

What the middleware cannot see is an outbox: a message written during one handler may be
published later, by a redelivery of another message or by the sweep at start-up. So the
outbox stores the handler's ``traceparent`` with each entry (``trace_headers``), and the
publisher continues that stored context when it sends the entry (``continuing``).
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from contextvars import Token
from typing import IO

from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import SERVICE_INSTANCE_ID, SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from services.runtime.dead_letter import Outcome
from services.runtime.settings import ServiceSettings, TracingSettings

TRACEPARENT = "traceparent"
_PROPAGATOR = TraceContextTextMapPropagator()
# Exporting must not hold up a stopping service for long when the collector is away.
FLUSH_TIMEOUT_MILLIS = 5_000
# Runtimes in this process that trace. With none (the default), ``trace_headers`` answers at
# once instead of looking for a current span on every outbox write.
_tracing_runtimes = 0


def tracer_provider(settings: ServiceSettings, exporter: SpanExporter | None = None) -> TracerProvider:
    """A provider for one service runtime. ``exporter`` replaces the configured one (tests
    collect spans in memory); it is then fed span by span, so spans show up at once. Stop it
    with ``shut_down``."""
    global _tracing_runtimes
    _tracing_runtimes += 1
    attributes = {SERVICE_NAME: f"mentorship-{settings.service_name}"}
    if settings.instance_id:
        attributes[SERVICE_INSTANCE_ID] = settings.instance_id
    provider = TracerProvider(
        resource=Resource.create(attributes),
        sampler=ParentBased(TraceIdRatioBased(settings.tracing.sample_ratio)),
    )
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        provider.add_span_processor(BatchSpanProcessor(_configured_exporter(settings.tracing)))
    return provider


def _configured_exporter(tracing: TracingSettings) -> SpanExporter:
    if tracing.exporter == "console":
        return console_exporter()
    # Imported here: the OTLP exporter pulls in protobuf and requests, which a service with
    # tracing off never needs.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(endpoint=tracing.otlp_endpoint)


def console_exporter(out: IO[str] = sys.stdout) -> SpanExporter:
    """One JSON line per span. The SDK's own console format fails on FastStream's spans: they
    carry the Kafka key as bytes, which its JSON rendering cannot write."""
    return ConsoleSpanExporter(out=out, formatter=_span_line)


def _span_line(span: ReadableSpan) -> str:
    context = span.get_span_context()
    line = {
        "span": span.name,
        "service": span.resource.attributes.get(SERVICE_NAME),
        "trace_id": f"{context.trace_id:032x}" if context else None,
        "span_id": f"{context.span_id:016x}" if context else None,
        "parent_id": f"{span.parent.span_id:016x}" if span.parent else None,
        "kind": span.kind.name,
        "status": span.status.status_code.name,
        "duration_ms": round(((span.end_time or 0) - (span.start_time or 0)) / 1e6, 3),
        "attributes": dict(span.attributes or {}),
    }
    return json.dumps(line, default=_as_text) + "\n"


def _as_text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def broker_middleware(provider: TracerProvider) -> KafkaTelemetryMiddleware:
    """FastStream's span-per-message middleware, on this runtime's provider."""
    return KafkaTelemetryMiddleware(tracer_provider=provider)


async def shut_down(provider: TracerProvider) -> None:
    """Export what is left, off the event loop (the SDK blocks while it flushes)."""
    global _tracing_runtimes
    _tracing_runtimes -= 1

    def flush_and_stop() -> None:
        provider.force_flush(FLUSH_TIMEOUT_MILLIS)
        provider.shutdown()

    await asyncio.to_thread(flush_and_stop)


def trace_headers() -> dict[str, str]:
    """``traceparent`` (and ``tracestate``) of the span being handled, or nothing when no
    span is active (tracing off, or work outside any message)."""
    if not _tracing_runtimes or not trace.get_current_span().get_span_context().is_valid:
        return {}
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier


def continuing(headers: Mapping[str, str]) -> AbstractContextManager[object]:
    """Make the trace context stored in ``headers`` the current one for the block, so what is
    published inside joins that trace; a shared do-nothing context when they carry none (the
    usual case with tracing off, so that path allocates nothing)."""
    if TRACEPARENT not in headers:
        return _NOTHING
    return _Attached(_PROPAGATOR.extract(headers))


_NOTHING: AbstractContextManager[object] = nullcontext()


class _Attached(AbstractContextManager[object]):
    def __init__(self, context: Context) -> None:
        self._context = context
        self._token: Token[Context] | None = None

    def __enter__(self) -> object:
        self._token = otel_context.attach(self._context)
        return self._context

    def __exit__(self, *_exc: object) -> None:
        if self._token is not None:
            otel_context.detach(self._token)


class SpanOutcomes:
    """Marks the consuming span with what the dead-letter middleware decided: the
    middleware swallows failures, so without this a dead-lettered message looks fine."""

    def attempt_finished(self, topic: str, seconds: float, error: BaseException | None) -> None:
        if error is not None:
            # The type only: exception texts may quote the message, and traces leave the platform.
            span = trace.get_current_span()
            span.add_event("handler attempt failed", {"exception.type": type(error).__name__})

    def message_finished(self, topic: str, outcome: Outcome, error: BaseException | None) -> None:
        span = trace.get_current_span()
        span.set_attribute("mentorship.outcome", outcome)
        if outcome == "dead_lettered":
            span.set_status(Status(StatusCode.ERROR, f"dead-lettered: {type(error).__name__}"))
