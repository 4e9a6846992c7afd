"""Decoding message bytes into contract classes, before a handler sees them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

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
        return decode(spec.name, msg.body)

    return decoder
