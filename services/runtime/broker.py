"""The Kafka broker every service uses, configured for at-least-once delivery.

- Offsets are committed only after the handler finished: FastStream's Kafka default
  (``ACK_FIRST``) commits before processing and can lose messages on a crash. The kit's
  subscribers handle every partition at once, each in order, and commit what their handlers
  finished in the background (``services.runtime.lanes``); FastStream itself commits nothing
  for them (``AckPolicy.MANUAL``).
- The producer waits for all in-sync replicas and is idempotent, so a retried send is never
  written twice (aiokafka's defaults are ``acks=1`` without idempotence).
- Consumers start from the earliest offset when their group is new, so a freshly deployed
  service also sees what was published before it first ran.

Middleware order (outermost first) when tracing and metrics are on: tracing, so the span of a
message encloses its retries and its dead-letter publish (which then carries the trace);
FastStream's Prometheus middleware, which sees each message once as it arrives; then the
dead-letter middleware, the only place that knows whether a message succeeded, was retried or
was dead-lettered, because it swallows what it dead-letters. It reports that to observers
(our metrics, the span's status) instead of letting outer middlewares guess.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import Any, cast

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import ConsumerStoppedError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaRouter
from faststream.kafka.subscriber.usecase import DefaultSubscriber
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from contracts.topics import TopicSpec
from services.runtime.dead_letter import DeadLetterMiddleware
from services.runtime.decoding import contract_decoder, readable_headers
from services.runtime.lanes import LaneSettings, PartitionLanes
from services.runtime.logging import get_logger
from services.runtime.observability import Observability
from services.runtime.settings import KafkaSettings, ServiceSettings

log = get_logger(__name__)

# How long a consumer waits in one fetch for records to arrive before it looks again.
_FETCH_WAIT_MS = 500


def security_from(kafka: KafkaSettings) -> BaseSecurity | None:
    """FastStream security options from settings (TLS and SASL/SCRAM for production)."""
    use_ssl = kafka.security_protocol in ("SSL", "SASL_SSL")
    context: ssl.SSLContext | None = None
    if use_ssl:
        context = ssl.create_default_context(cafile=kafka.ssl_cafile)
        if kafka.ssl_certfile:
            context.load_cert_chain(kafka.ssl_certfile, kafka.ssl_keyfile)
    if kafka.security_protocol.startswith("SASL"):
        if not kafka.sasl_username or kafka.sasl_password is None:
            raise ValueError("SASL needs kafka.sasl_username and kafka.sasl_password")
        password = kafka.sasl_password.get_secret_value()
        mechanisms: dict[str | None, type[SASLPlaintext | SASLScram256 | SASLScram512]] = {
            "PLAIN": SASLPlaintext,
            None: SASLScram512,
            "SCRAM-SHA-256": SASLScram256,
            "SCRAM-SHA-512": SASLScram512,
        }
        return mechanisms[kafka.sasl_mechanism](
            kafka.sasl_username, password, use_ssl=use_ssl, ssl_context=context
        )
    if use_ssl:
        return BaseSecurity(ssl_context=context, use_ssl=True)
    return None


def client_security_options(kafka: KafkaSettings) -> dict[str, object]:
    """The same security as keyword arguments for aiokafka's own clients (admin clients, and
    the plain consumers and producers of operator tools)."""
    security = security_from(kafka)
    if security is None:
        return {}
    options: dict[str, object] = {
        "security_protocol": kafka.security_protocol,
        "ssl_context": security.ssl_context,
    }
    if kafka.security_protocol.startswith("SASL"):
        options.update(
            sasl_mechanism=kafka.sasl_mechanism or "SCRAM-SHA-512",
            sasl_plain_username=kafka.sasl_username,
            sasl_plain_password=kafka.sasl_password.get_secret_value() if kafka.sasl_password else None,
        )
    return options


def create_broker(settings: ServiceSettings, observability: Observability | None = None) -> KafkaBroker:
    """A broker with the platform's delivery guarantees and dead-letter handling, measured
    and traced as ``observability`` says (neither without it)."""
    observed = observability or Observability()
    dead_letters = DeadLetterMiddleware.with_policy(
        settings.retry, settings.service_name, observed.handling_observers()
    )
    return KafkaBroker(
        settings.kafka.bootstrap_servers,
        client_id=settings.client_id,
        acks="all",
        enable_idempotence=True,
        request_timeout_ms=settings.kafka.request_timeout_ms,
        security=security_from(settings.kafka),
        ack_policy=AckPolicy.NACK_ON_ERROR,
        middlewares=[*observed.broker_middlewares(), dead_letters],
        # A standard-library logger outside the "faststream" tree (which has a handler of
        # its own), so these lines go through the structlog formatter like ours. Per-message
        # "Received/Processed" lines are DEBUG: at production rates they are noise.
        logger=logging.getLogger("mentorship.broker"),
        log_level=logging.DEBUG,
        graceful_timeout=15.0,
    )


class PartitionedSubscriber(DefaultSubscriber):
    """FastStream's Kafka subscriber with its one-record-at-a-time loop replaced by lanes.

    Parsing, decoding, middlewares (the dead-letter one included), dependency injection and the
    AsyncAPI description stay FastStream's; only how records reach ``process_message`` and how
    offsets are committed change. The lanes live in the subscriber's rebalance-listener slot,
    where aiokafka calls them before each rebalance.
    """

    # No slots of its own: ``subscribe`` turns the subscriber FastStream built into this class.
    __slots__ = ()

    @property
    def lanes(self) -> PartitionLanes:
        return cast(PartitionLanes, self._listener)

    async def _run_consume_loop(self, consumer: AIOKafkaConsumer) -> None:
        lanes = self.lanes
        lanes.bind(consumer, self.process_message)
        committer = asyncio.create_task(lanes.commit_periodically())
        try:
            while self.running:
                try:
                    fetched = await consumer.getmany(timeout_ms=_FETCH_WAIT_MS)
                except ConsumerStoppedError:
                    return
                except Exception as error:  # noqa: BLE001 - the loop must outlive a failed fetch
                    # Never let the loop end and be restarted: its lanes would be orphaned with
                    # records the consumer's position has already moved past.
                    log.error("fetching records failed", error=type(error).__name__, subscriber=lanes.name)
                    await asyncio.sleep(1)
                    continue
                for partition, records in fetched.items():
                    lanes.dispatch(partition, records)
        finally:
            committer.cancel()

    async def stop(self) -> None:
        # Finish the records in hand and commit before FastStream stops the consumer.
        self.running = False
        if self.consumer is not None:
            await self.lanes.close()
        await super().stop()


def subscribe(router: KafkaRouter, settings: ServiceSettings, spec: TopicSpec) -> PartitionedSubscriber:
    """Subscribe a handler to a registry topic as this service's consumer group.

    The handler receives the decoded contract message (one of the topic's classes); records of
    one partition reach it in order, records of different partitions concurrently. Replies are
    off: FastStream would otherwise publish each handler's result to whatever topic a producer
    names in a ``reply_to`` header, letting any producer make a service write to any topic."""
    title = f"{settings.service_name}:{spec.name}"
    lanes = PartitionLanes(
        LaneSettings(
            commit_interval=settings.kafka.commit_interval_ms / 1000,
            buffer=settings.kafka.partition_buffer,
            retry_initial=settings.retry.backoff_initial_seconds,
            retry_max=settings.retry.backoff_max_seconds,
        ),
        name=title,
    )
    subscriber: Any = router.subscriber(
        settings.topic(spec.name),
        group_id=settings.consumer_group,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.MANUAL,
        decoder=contract_decoder(spec),
        parser=readable_headers,
        no_reply=True,
        listener=lanes,
        title=title,
    )
    # FastStream picks its subscriber class itself; this one adds behaviour and no state (the
    # lanes are the listener), so the object FastStream built and registered can take it on.
    subscriber.__class__ = PartitionedSubscriber
    return cast(PartitionedSubscriber, subscriber)
