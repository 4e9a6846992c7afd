"""A generic JSON webhook, for systems that want the facts rather than formatted text."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from contracts.profile import Channel
from services.notification.channels.base import ChannelAdapter
from services.notification.channels.http import WebhookPoster
from services.notification.contacts import Contact
from services.notification.notices import Notice
from services.notification.rendering import Renderer


def _plain(value: str) -> str:
    return value  # JSON encoding is the only escaping a JSON consumer needs


class GenericWebhookAdapter(ChannelAdapter):
    channel = Channel.WEBHOOK

    def __init__(self, poster: WebhookPoster) -> None:
        self._poster = poster

    def address_of(self, contact: Contact) -> str | None:
        return contact.webhook_url

    def compose(
        self, renderer: Renderer, notice: Notice, contact: Contact, names: Mapping[str, str]
    ) -> dict[str, Any]:
        context = renderer.context(notice, contact, names)
        return {
            "template": notice.template,
            "recipient_id": notice.recipient_id,
            "priority": notice.priority.value,
            "subject": renderer.subject(notice, context),
            "text": renderer.chat(notice, context, _plain),
            "link": context["link"],
            "data": dict(notice.data),
        }

    async def send(self, notification_id: str, address: str, payload: Mapping[str, Any]) -> str | None:
        await self._poster.post(
            "the webhook", address, {"notification_id": notification_id, **payload}, notification_id
        )
        return None
