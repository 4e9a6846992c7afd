"""Reading what a service exposes about itself: the Prometheus page and the spans it made."""

from __future__ import annotations

from collections.abc import Iterable

from opentelemetry.sdk.trace import ReadableSpan
from prometheus_client.parser import text_string_to_metric_families


def metric(page: str, name: str, **labels: str) -> float | None:
    """The sum of the samples of ``name`` with these labels (whatever their other labels) on
    a ``/metrics`` page, or None when there is none."""
    values = [
        float(sample.value)
        for family in text_string_to_metric_families(page)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    ]
    return sum(values) if values else None


def trace_id_of(traceparent: str) -> str:
    """The trace id of a W3C ``traceparent`` header (version-traceid-parentid-flags)."""
    return traceparent.split("-")[1]


def hex_trace_id(span: ReadableSpan) -> str:
    context = span.get_span_context()
    assert context is not None
    return f"{context.trace_id:032x}"


def services_in_trace(spans: Iterable[ReadableSpan], trace_id: str) -> set[str]:
    """The ``service.name`` of every span of one trace."""
    return {
        str(span.resource.attributes.get("service.name")) for span in spans if hex_trace_id(span) == trace_id
    }


def consuming_spans(spans: Iterable[ReadableSpan], topic: str) -> list[ReadableSpan]:
    """The spans FastStream made for processing messages of a topic."""
    return [span for span in spans if span.name == f"{topic} process"]
