"""Dead letters as an operator sees them: where they came from, why, and whose failure.

What is shown comes from the ``dlq.*`` headers the services add (``services.runtime.
dead_letter`` and the notification service's own dead letters) and the tracing headers every
publisher sets. The body is personal data; it is read only to find an event id or type a
producer did not put in the headers, and shown only when asked for.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from contracts.catalogue import TOPICS, topic_named
from contracts.topics import DLQ_SUFFIX
from deploy.operator.kafka import Record

DLQ = "dlq."
REPLAY_OF = "replay.of"


@dataclass(frozen=True)
class DeadLetter:
    record: Record

    @property
    def coordinates(self) -> str:
        """``<dead-letter topic>:<partition>:<offset>``: what a replay points back to."""
        return f"{self.record.topic}:{self.record.partition}:{self.record.offset}"

    def header(self, name: str) -> str | None:
        found = None
        for key, value in self.record.headers:
            if key == name:  # the last of repeated headers wins, as in the services' dicts
                found = value.decode("utf-8", "replace")
        return found

    @property
    def original_topic(self) -> str:
        """Where the record was consumed from; replays go back there."""
        return self.header(f"{DLQ}original_topic") or self.record.topic.removesuffix(DLQ_SUFFIX)

    @property
    def service(self) -> str | None:
        return self.header(f"{DLQ}service")

    @property
    def event_id(self) -> str | None:
        return self.header("event_id") or _body_field(self.record.value, "event_id")

    @property
    def event_type(self) -> str | None:
        return self.header("event_type") or _body_field(self.record.value, "type")

    @property
    def attempts(self) -> int | None:
        value = self.header(f"{DLQ}attempts")
        return int(value) if value and value.isdigit() else None

    def summary(self, *, logical: str, replayed_at: str | None, show_body: bool) -> dict[str, Any]:
        """What ``dlq list`` shows; the body only when ``show_body``."""
        shown: dict[str, Any] = {
            "topic": logical,
            "partition": self.record.partition,
            "offset": self.record.offset,
            "original_topic": self.original_topic,
            "key": self.record.key.decode("utf-8", "replace") if self.record.key is not None else None,
            "event_type": self.event_type,
            "event_id": self.event_id,
            "service": self.service,
            "reason": self.header(f"{DLQ}reason"),
            "attempts": self.attempts,
            "failed_at": self.header(f"{DLQ}failed_at"),
            "replayed_at": replayed_at,
        }
        if show_body:
            shown["body"] = (self.record.value or b"").decode("utf-8", "replace")
        return shown


def _body_field(value: bytes | None, name: str) -> str | None:
    try:
        body = json.loads(value or b"")
    except ValueError:
        return None  # the undecodable message that was dead-lettered for it
    found = body.get(name) if isinstance(body, dict) else None
    return found if isinstance(found, str) else None


def dead_letter_topics(topic: str | None = None) -> list[str]:
    """Logical dead-letter topics: the one named (with or without ``.dlq``), or every one in
    the registry. An unknown name raises ``LookupError``."""
    if topic is None:
        return [spec.dead_letter for spec in TOPICS]
    return [topic_named(topic.removesuffix(DLQ_SUFFIX)).dead_letter]


def replay_headers(letter: DeadLetter) -> list[tuple[str, bytes]]:
    """The dead letter's headers as they are (the ``dlq.*`` ones too: the notification service
    reads ``dlq.service`` and ``dlq.notification_id`` to retry the delivery that failed), with
    ``replay.of`` pointing at this dead letter."""
    kept = [(name, value) for name, value in letter.record.headers if name != REPLAY_OF]
    return [*kept, (REPLAY_OF, letter.coordinates.encode())]
