"""Notification events: what was delivered to whom, on which channel, or why not."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from contracts.common import EntityId, PersonId, ShortText, Tag
from contracts.envelope import Envelope, Payload
from contracts.profile import Channel


class NotificationOutcomeData(Payload):
    notification_id: EntityId = Field(description="Deterministic: cause event, recipient and channel.")
    recipient_id: PersonId
    channel: Channel
    template: Tag = Field(description="For example 'match_proposed' or 'reminder'.")
    cause_event_id: EntityId
    attempts: int = Field(ge=1)


class NotificationFailedData(NotificationOutcomeData):
    error: ShortText
    permanent: bool = Field(description="False when retries ran out on a transient error.")


class NotificationDelivered(Envelope):
    subject_field = "recipient_id"
    type: Literal["notification.delivered"] = "notification.delivered"
    version: Literal[1] = 1
    payload: NotificationOutcomeData


class NotificationFailed(Envelope):
    subject_field = "recipient_id"
    type: Literal["notification.failed"] = "notification.failed"
    version: Literal[1] = 1
    payload: NotificationFailedData
