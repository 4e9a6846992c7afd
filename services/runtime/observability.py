"""Metrics and tracing of one service runtime, built from its settings; both off by default.

Everything here is decided once, at start-up: when a feature is off, no middleware, observer
or provider exists for it, so the message path is the same as without this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter

from services.runtime import tracing
from services.runtime.dead_letter import HandlingObserver
from services.runtime.metrics import NO_METRICS, Metrics, ServiceMetrics
from services.runtime.settings import ServiceSettings


@dataclass(frozen=True)
class Observability:
    """What a runtime measures and traces."""

    metrics: ServiceMetrics | None = None
    tracer_provider: TracerProvider | None = None

    @classmethod
    def from_settings(
        cls, settings: ServiceSettings, span_exporter: SpanExporter | None = None
    ) -> Observability:
        """``span_exporter`` replaces the configured exporter when tracing is on (tests)."""
        return cls(
            metrics=ServiceMetrics(settings.service_name) if settings.metrics.enabled else None,
            tracer_provider=(
                tracing.tracer_provider(settings, span_exporter) if settings.tracing.enabled else None
            ),
        )

    @property
    def recorder(self) -> Metrics:
        """What service code counts through; does nothing when metrics are off."""
        return self.metrics if self.metrics is not None else NO_METRICS

    def broker_middlewares(self) -> list[Any]:
        """FastStream middlewares to put outside the dead-letter middleware, outermost first."""
        middlewares: list[Any] = []
        if self.tracer_provider is not None:
            middlewares.append(tracing.broker_middleware(self.tracer_provider))
        if self.metrics is not None:
            middlewares.append(self.metrics.broker_middleware())
        return middlewares

    def handling_observers(self) -> tuple[HandlingObserver, ...]:
        """Observers the dead-letter middleware tells how attempts and messages ended."""
        observers: list[HandlingObserver] = []
        if self.tracer_provider is not None:
            observers.append(tracing.SpanOutcomes())
        if self.metrics is not None:
            observers.append(self.metrics)
        return tuple(observers)

    async def close(self) -> None:
        if self.tracer_provider is not None:
            await tracing.shut_down(self.tracer_provider)
