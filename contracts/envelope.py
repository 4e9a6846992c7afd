"""The envelope every message carries, and how new messages are made.

A concrete message is a subclass that fixes ``type`` and ``version`` with literals, names
its payload model, and says which payload field is its subject (the entity id the message is
keyed and partitioned by). Consumers decode any message of a topic into its class through
the topic's discriminated union (see ``catalogue``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal, Self

from pydantic import AwareDatetime, ConfigDict, Field, field_validator, model_validator

from contracts.common import EntityId, Frozen, ShortText

MessageKind = Literal["event", "command"]


class Payload(Frozen):
    """Base of every payload model."""


def _derived_fields_optional(schema: dict[str, Any]) -> None:
    # The validator below fills subject and correlation_id, so producers may leave them
    # out; the published schema says so rather than demanding them. ``type`` has a default
    # in Python but a producer must send it: topics are decoded by it.
    required = schema.get("required")
    if isinstance(required, list):
        kept = [name for name in required if name not in ("subject", "correlation_id")]
        schema["required"] = ["type", *kept] if "type" not in kept else kept


class Envelope(Frozen):
    """Metadata every message carries, around its typed payload."""

    model_config = ConfigDict(
        frozen=True, extra="ignore", populate_by_name=True, json_schema_extra=_derived_fields_optional
    )

    event_id: EntityId = Field(
        description="Unique id of this message; consumers use it to ignore redeliveries."
    )
    type: str = Field(description="The message type, for example 'employee.onboarded'.")
    version: int = Field(default=1, ge=1, description="Schema version of this message type.")
    source: ShortText = Field(description="The system or service that produced the message.")
    occurred_at: AwareDatetime = Field(
        description="When it happened, with a UTC offset; stored and re-emitted in UTC."
    )
    subject: EntityId = Field(
        description="The entity id the message is about; also its Kafka key. "
        "May be omitted by producers, in which case it is taken from the payload."
    )
    correlation_id: EntityId = Field(
        description="Shared by every message of one chain, from an onboarding event to the "
        "badge it led to. Defaults to the event id for the first message of a chain."
    )
    causation_id: EntityId | None = Field(
        default=None, description="The event id of the message that caused this one."
    )
    payload: Payload

    kind: ClassVar[MessageKind] = "event"
    subject_field: ClassVar[str] = ""
    summary: ClassVar[str] = ""

    @field_validator("occurred_at")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    @model_validator(mode="before")
    @classmethod
    def _fill_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        filled = dict(data)
        payload = filled.get("payload")
        if "subject" not in filled and cls.subject_field and isinstance(payload, dict | Frozen):
            if isinstance(payload, dict):
                value = payload.get(cls.subject_field)
            else:
                value = getattr(payload, cls.subject_field, None)
            if value is not None:
                filled["subject"] = value
        if "correlation_id" not in filled and "event_id" in filled:
            filled["correlation_id"] = filled["event_id"]
        return filled

    @model_validator(mode="after")
    def _subject_matches_payload(self) -> Self:
        if self.subject_field:
            expected = getattr(self.payload, self.subject_field)
            if expected != self.subject:
                raise ValueError(
                    f"subject {self.subject!r} differs from payload.{self.subject_field} {expected!r}"
                )
        return self

    @classmethod
    def message_type(cls) -> str:
        """The literal ``type`` of a concrete message class."""
        return str(cls.model_fields["type"].default)

    @classmethod
    def schema_version(cls) -> int:
        return int(cls.model_fields["version"].default)

    @classmethod
    def create(
        cls,
        payload: Payload,
        *,
        source: str,
        caused_by: Envelope | None = None,
        event_id: str | None = None,
        occurred_at: datetime | None = None,
        correlation_id: str | None = None,
    ) -> Self:
        """Make a new message, continuing the chain of ``caused_by`` when given.

        Pass ``event_id`` (for example from ``deterministic_id``) when a redelivered cause
        must yield the very same message, so downstream consumers recognise it. Pass
        ``correlation_id`` when the message belongs to a chain other than its immediate
        cause's (a waiting request served because someone else freed capacity).
        """
        new_id = event_id or str(uuid.uuid4())
        data: dict[str, Any] = {
            "event_id": new_id,
            "source": source,
            "occurred_at": occurred_at or datetime.now(UTC),
            "correlation_id": correlation_id or (caused_by.correlation_id if caused_by else new_id),
            "causation_id": caused_by.event_id if caused_by else None,
            "payload": payload,
        }
        if not cls.subject_field:
            raise TypeError(f"{cls.__name__} has no subject field; pass one explicitly")
        return cls.model_validate(data)

    def headers(self) -> dict[str, str]:
        """Kafka headers that let tools route and trace without decoding the body."""
        headers = {
            "content-type": "application/json",
            "event_id": self.event_id,
            "event_type": self.type,
            "event_version": str(self.version),
            "correlation_id": self.correlation_id,
        }
        if self.causation_id:
            headers["causation_id"] = self.causation_id
        return headers

    def to_json_bytes(self) -> bytes:
        return self.model_dump_json().encode()


NAMESPACE = uuid.UUID("6f1c2a52-93f0-4e4b-9d8e-2b8f0f4e7a11")


def deterministic_id(*parts: str) -> str:
    """A stable id derived from its parts (uuid5), for messages and records that must not
    be duplicated when their cause is processed twice."""
    return str(uuid.uuid5(NAMESPACE, "\x1f".join(parts)))
