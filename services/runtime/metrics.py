"""Prometheus metrics of one service process, served at ``GET /metrics`` when enabled.

Each running service gets a registry of its own, so several services in one process (as in
the tests) never share or clash over a metric. Two families are exposed:

- ``mentorship_*``, ours: how each consumed message ended (``ok``, ``retried``,
  ``dead_lettered``, which only the dead-letter middleware knows, as it swallows failures),
  failed handler attempts by error type, handler latency per attempt, consumer lag per
  partition and notifications per channel and outcome;
- ``faststream_*``, from FastStream's ``KafkaPrometheusMiddleware``: messages received and in
  progress, their size, the whole processing time (retries and backoff included), and
  publishes by topic and status.

When metrics are off, services hold ``NO_METRICS`` instead, whose methods do nothing, and
neither the middleware nor the observer is installed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from aiokafka.errors import IllegalStateError, KafkaError
from faststream.kafka import KafkaBroker
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from services.runtime.dead_letter import Outcome
from services.runtime.lanes import PartitionLanes

CONTENT_TYPE = CONTENT_TYPE_LATEST
OUTCOMES: tuple[Outcome, ...] = ("ok", "retried", "dead_lettered")
NotificationOutcome = Literal["delivered", "retrying", "failed", "in_doubt"]
# Handlers mostly wait on the database and on Kafka: milliseconds to seconds.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# A scrape must not hang on a slow broker or on a consumer resetting its position.
BROKER_TIMEOUT_SECONDS = 2.0


class Metrics(Protocol):
    """What service code records itself, whether or not metrics are enabled."""

    def notification(self, channel: str, outcome: NotificationOutcome) -> None:
        """One delivery attempt's confirmed result on a channel."""


class _NoMetrics:
    def notification(self, channel: str, outcome: NotificationOutcome) -> None:
        return None


NO_METRICS: Metrics = _NoMetrics()


@dataclass(frozen=True)
class _TopicSeries:
    processed: dict[Outcome, Counter]
    latency: Histogram


class ServiceMetrics:
    """The metrics of one service runtime, in their own registry."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry()
        self._processed = Counter(
            "mentorship_messages_processed",
            "Consumed messages by topic and how they ended: ok, retried (handled after retries) "
            "or dead_lettered.",
            ["topic", "outcome"],
            registry=self.registry,
        )
        self._failures = Counter(
            "mentorship_handler_failures",
            "Failed handler attempts by topic and error type (each retry counts).",
            ["topic", "error_type"],
            registry=self.registry,
        )
        self._latency = Histogram(
            "mentorship_handler_duration_seconds",
            "Time of one handler attempt (decoding included, backoff between retries not).",
            ["topic"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._lag = Gauge(
            "mentorship_consumer_lag",
            "Records in a partition the consumer has not taken yet (end offset - position).",
            ["topic", "partition"],
            registry=self.registry,
        )
        self._notifications = Counter(
            "mentorship_notifications",
            "Notification delivery attempts by channel and outcome: delivered, retrying, failed, in_doubt.",
            ["channel", "outcome"],
            registry=self.registry,
        )
        self._topics: dict[str, _TopicSeries] = {}

    def broker_middleware(self) -> KafkaPrometheusMiddleware:
        """FastStream's own Kafka metrics, into this registry."""
        return KafkaPrometheusMiddleware(registry=self.registry, app_name=self.service)

    def expect_topics(self, topics: Iterable[str]) -> None:
        """Show every outcome of every consumed topic at zero from the start, so rates and
        alerts work before the first failure ever happened."""
        for topic in topics:
            self._series(topic)

    # ------------------------------------------------------------ HandlingObserver

    def attempt_finished(self, topic: str, seconds: float, error: BaseException | None) -> None:
        self._series(topic).latency.observe(seconds)
        if error is not None:
            self._failures.labels(topic, type(error).__name__).inc()

    def message_finished(self, topic: str, outcome: Outcome, error: BaseException | None) -> None:
        self._series(topic).processed[outcome].inc()

    def _series(self, topic: str) -> _TopicSeries:
        # Resolving labels takes a lock and a lookup each time; a topic's series are fixed.
        series = self._topics.get(topic)
        if series is None:
            series = self._topics[topic] = _TopicSeries(
                processed={outcome: self._processed.labels(topic, outcome) for outcome in OUTCOMES},
                latency=self._latency.labels(topic),
            )
        return series

    # ------------------------------------------------------------ Metrics

    def notification(self, channel: str, outcome: NotificationOutcome) -> None:
        self._notifications.labels(channel, outcome).inc()

    # ------------------------------------------------------------ exposition

    async def exposition(self, broker: KafkaBroker) -> bytes:
        """The text format, with consumer lag read at this moment (no cost between scrapes)."""
        await self._refresh_lag(broker)
        return generate_latest(self.registry)

    async def _refresh_lag(self, broker: KafkaBroker) -> None:
        lags: dict[tuple[str, str], int] = {}
        for subscriber in broker.subscribers:
            consumer = getattr(subscriber, "consumer", None)
            lanes = getattr(subscriber, "lanes", None)
            if consumer is not None:
                lags.update(await _lag_of(consumer, lanes if isinstance(lanes, PartitionLanes) else None))
        # Partitions this replica no longer owns disappear instead of showing a stale value.
        self._lag.clear()
        for (topic, partition_id), lag in lags.items():
            self._lag.labels(topic, partition_id).set(lag)


async def _lag_of(consumer: Any, lanes: PartitionLanes | None) -> dict[tuple[str, str], int]:
    """Per assigned partition, the end offset minus the consumer's position, plus the records
    fetched ahead that wait in the partition's lane.

    The end offsets are asked of the broker at scrape time: the highwater aiokafka caches is
    only refreshed by fetches, and no fetch happens for a partition while its handler holds
    the last record taken, which would hide exactly the backlog lag is meant to show. Only if
    the broker does not answer in time does the cached highwater stand in."""
    partitions = list(consumer.assignment())
    if not partitions:
        return {}
    try:
        ends = await asyncio.wait_for(consumer.end_offsets(partitions), BROKER_TIMEOUT_SECONDS)
    except (KafkaError, TimeoutError):
        ends = {p: consumer.highwater(p) for p in partitions if consumer.highwater(p) is not None}
    lags: dict[tuple[str, str], int] = {}
    for partition, end in ends.items():
        try:
            position = await asyncio.wait_for(consumer.position(partition), BROKER_TIMEOUT_SECONDS)
        except (IllegalStateError, TimeoutError):
            continue  # taken away by a rebalance meanwhile, or still resetting its position
        waiting = lanes.waiting(partition) if lanes is not None else 0
        lags[(partition.topic, str(partition.partition))] = max(0, end - position) + waiting
    return lags
