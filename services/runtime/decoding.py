"""Decoding message bytes into contract classes, before a handler sees them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from faststream.message import StreamMessage

from contracts.catalogue import decode
from contracts.envelope import Envelope
from contracts.topics import TopicSpec


def contract_decoder(spec: TopicSpec) -> Callable[[StreamMessage[Any]], Awaitable[Envelope]]:
    """A FastStream decoder that validates the raw bytes strictly against the topic's union.

    Pydantic parses the JSON itself, so truncated JSON, a wrong type or a missing field all
    surface as one ``ValidationError`` that names the field, and the dead-letter middleware
    records it as the reason.
    """

    async def decoder(msg: StreamMessage[Any]) -> Envelope:
        message = decode(spec.name, msg.body)
        # Producers outside the platform may send no tracing headers; the envelope has the ids.
        structlog.contextvars.bind_contextvars(
            event_id=message.event_id, correlation_id=message.correlation_id, event_type=message.type
        )
        return message

    return decoder
