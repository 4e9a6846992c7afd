"""Decoding message bytes into contract classes, before a handler sees them."""

from __future__ import annotations

import copy
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


async def readable_headers(
    record: Any, parse: Callable[[Any], Awaitable[StreamMessage[Any]]]
) -> StreamMessage[Any]:
    """A FastStream parser that survives headers which are not UTF-8.

    FastStream's own Kafka parser decodes every header value strictly, and it runs before any
    middleware: a single header of stray bytes (or one with no value) failed the message
    outside the dead-letter middleware, and it was committed without being handled or
    dead-lettered. Headers are not part of any contract (the envelope carries the ids), so
    such values are decoded with replacement characters and the body is judged as usual.
    """
    headers = getattr(record, "headers", None) or ()
    if all(isinstance(value, bytes) and _is_utf8(value) for _, value in headers):
        return await parse(record)
    readable = copy.copy(record)
    readable.headers = [(name, (value or b"").decode("utf-8", "replace").encode()) for name, value in headers]
    return await parse(readable)


def _is_utf8(value: bytes) -> bool:
    try:
        value.decode()
    except UnicodeDecodeError:
        return False
    return True
