"""Publishing contract messages: the right topic, the subject as key, tracing headers."""

from __future__ import annotations

import asyncio
from typing import Any

from faststream.kafka import KafkaBroker

from contracts.catalogue import topic_of
from contracts.envelope import Envelope
from services.runtime.settings import ServiceSettings
from services.runtime.tracing import continuing


class MessagePublisher:
    """Publishes envelopes to the topic the registry assigns to their class."""

    def __init__(self, broker: KafkaBroker, settings: ServiceSettings) -> None:
        self._broker = broker
        self._settings = settings

    async def publish(self, message: Envelope) -> None:
        """Send one message and wait until every in-sync replica has it."""
        await self._send(message, confirm=True)

    async def publish_many(self, messages: list[Envelope]) -> None:
        """Send a batch without waiting for each acknowledgement in turn, then wait for all.

        The idempotent producer keeps per-partition order with several requests in flight.
        """
        pending = [await self._send(m, confirm=False) for m in messages]
        await asyncio.gather(*pending)

    async def publish_raw(self, logical_topic: str, key: str, value: bytes, headers: dict[str, str]) -> None:
        """Send an already serialised message (from an outbox) to a registry topic, in the
        trace its headers name (the handler that wrote it), whichever span is current now."""
        with continuing(headers):
            await self._broker.publish(
                value, topic=self._settings.topic(logical_topic), key=key.encode(), headers=headers
            )

    async def _send(self, message: Envelope, *, confirm: bool) -> Any:
        return await self._broker.publish(
            message.to_json_bytes(),
            topic=self._settings.topic(topic_of(type(message)).name),
            key=message.subject.encode(),
            headers=message.headers(),
            no_confirm=not confirm,
        )
