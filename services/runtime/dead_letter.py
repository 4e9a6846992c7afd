"""Bounded retries, then the dead-letter topic; never a stuck partition, never a lost message.

Every consumed message goes through ``DeadLetterMiddleware``:

- it binds the message's event id, correlation id and type to every log line;
- a permanent failure (undecodable bytes, a schema violation, ``UnprocessableMessage``) goes
  to ``<topic>.dlq`` at once;
- any other failure is retried in-process with exponential backoff and full jitter, up to
  ``retry.max_attempts``, then dead-lettered;
- the dead-letter record keeps the original value, key and headers byte for byte (so it can
  be replayed as it was) and adds ``dlq.*`` headers with the reason, the origin and the
  service that gave up on it (``dlq.service``: several services consume most topics, and an
  operator needs to know whose failure a dead letter is).

Observers (metrics, tracing) hear how each attempt and each message ended; the middleware is
where that is known, since it swallows the failures it dead-letters. Without observers the
loop does no timing at all.

The middleware returns normally after dead-lettering, so the offset becomes committable and
the service moves on. If the dead-letter write itself fails, the error propagates; the
partition's lane (``services.runtime.lanes``) then handles the message again after a pause,
committing nothing past it, so it is processed again instead of being lost.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

import structlog
from faststream import BaseMiddleware
from faststream.message import StreamMessage

from contracts.topics import dead_letter_topic
from services.runtime.errors import describe, is_permanent
from services.runtime.logging import get_logger
from services.runtime.settings import RetrySettings

log = get_logger(__name__)

DLQ_HEADER_PREFIX = "dlq."

Outcome = Literal["ok", "retried", "dead_lettered"]
"""How a consumed message ended: handled at the first attempt, handled after retries, or
sent to the dead-letter topic."""


class HandlingObserver(Protocol):
    """Told about every handler attempt and every message's outcome, per physical topic."""

    def attempt_finished(self, topic: str, seconds: float, error: BaseException | None) -> None: ...

    def message_finished(self, topic: str, outcome: Outcome, error: BaseException | None) -> None: ...


def backoff_delay(attempt: int, policy: RetrySettings, rng: random.Random | None = None) -> float:
    """Seconds to wait before retry number ``attempt`` (1-based): full jitter over an
    exponentially growing cap, so replicas that failed together do not retry together."""
    cap = min(policy.backoff_max_seconds, policy.backoff_initial_seconds * (2 ** (attempt - 1)))
    return (rng or random).uniform(0, cap)


def _headers_of(record: Any) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in getattr(record, "headers", None) or ():
        headers[name] = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return headers


class DeadLetterMiddleware(BaseMiddleware):
    """Retries, logging context and dead-lettering around every handler call."""

    retry: RetrySettings = RetrySettings()
    service: str = ""
    observers: tuple[HandlingObserver, ...] = ()

    @classmethod
    def with_policy(
        cls, retry: RetrySettings, service: str = "", observers: tuple[HandlingObserver, ...] = ()
    ) -> type[DeadLetterMiddleware]:
        """A middleware class bound to a retry policy, the consuming service's name and the
        observers (FastStream builds one middleware per message, from the class)."""
        return type(cls.__name__, (cls,), {"retry": retry, "service": service, "observers": observers})

    async def consume_scope(
        self, call_next: Callable[[StreamMessage[Any]], Awaitable[Any]], msg: StreamMessage[Any]
    ) -> Any:
        record = msg.raw_message
        headers = _headers_of(record)
        with structlog.contextvars.bound_contextvars(
            event_id=headers.get("event_id"),
            correlation_id=headers.get("correlation_id"),
            event_type=headers.get("event_type"),
            topic=getattr(record, "topic", None),
            partition=getattr(record, "partition", None),
            offset=getattr(record, "offset", None),
        ):
            observers = self.observers
            attempt = 0
            while True:
                attempt += 1
                started = time.perf_counter() if observers else 0.0
                try:
                    result = await call_next(msg)
                except Exception as error:  # noqa: BLE001 - every failure is classified below
                    if observers:
                        self._attempt_finished(record.topic, started, error)
                    if is_permanent(error) or attempt >= self.retry.max_attempts:
                        await self._dead_letter(record, error, attempt)
                        if observers:
                            self._message_finished(record.topic, "dead_lettered", error)
                        return None
                    delay = backoff_delay(attempt, self.retry)
                    log.warning(
                        "handler failed, retrying",
                        attempt=attempt,
                        retry_in_seconds=round(delay, 3),
                        error=type(error).__name__,
                    )
                    await asyncio.sleep(delay)
                else:
                    if observers:
                        self._attempt_finished(record.topic, started, None)
                        self._message_finished(record.topic, "ok" if attempt == 1 else "retried", None)
                    return result

    def _attempt_finished(self, topic: str, started: float, error: BaseException | None) -> None:
        seconds = time.perf_counter() - started
        for observer in self.observers:
            observer.attempt_finished(topic, seconds, error)

    def _message_finished(self, topic: str, outcome: Outcome, error: BaseException | None) -> None:
        for observer in self.observers:
            observer.message_finished(topic, outcome, error)

    async def _dead_letter(self, record: Any, error: BaseException, attempts: int) -> None:
        broker = self.context.get("broker")
        topic = dead_letter_topic(record.topic)
        headers = _headers_of(record)
        headers.update(
            {
                f"{DLQ_HEADER_PREFIX}reason": describe(error),
                f"{DLQ_HEADER_PREFIX}error_type": type(error).__name__,
                f"{DLQ_HEADER_PREFIX}permanent": str(is_permanent(error)).lower(),
                f"{DLQ_HEADER_PREFIX}attempts": str(attempts),
                f"{DLQ_HEADER_PREFIX}original_topic": record.topic,
                f"{DLQ_HEADER_PREFIX}original_partition": str(record.partition),
                f"{DLQ_HEADER_PREFIX}original_offset": str(record.offset),
                f"{DLQ_HEADER_PREFIX}failed_at": datetime.now(UTC).isoformat(),
            }
        )
        # A replayed record may carry the header of an earlier failure elsewhere.
        headers.pop(f"{DLQ_HEADER_PREFIX}service", None)
        if self.service:
            headers[f"{DLQ_HEADER_PREFIX}service"] = self.service
        await broker.publish(
            record.value if record.value is not None else b"",
            topic=topic,
            key=record.key,
            headers=headers,
        )
        log.error(
            "message dead-lettered",
            dead_letter_topic=topic,
            attempts=attempts,
            error=type(error).__name__,
            reason=describe(error, limit=300),
        )
