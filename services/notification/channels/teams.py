"""Microsoft Teams through the person's incoming webhook, as a message card."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from contracts.profile import Channel
from services.notification.channels.base import ChannelAdapter
from services.notification.channels.http import WebhookPoster
from services.notification.contacts import Contact
from services.notification.notices import Notice
from services.notification.rendering import Renderer

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|~])")


def teams_escape(value: str) -> str:
    """Teams renders card text as Markdown with some HTML: user text gets neither."""
    escaped = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MARKDOWN.sub(r"\\\1", escaped)


class TeamsAdapter(ChannelAdapter):
    channel = Channel.TEAMS

    def __init__(self, poster: WebhookPoster) -> None:
        self._poster = poster

    def address_of(self, contact: Contact) -> str | None:
        return contact.teams_webhook_url

    def compose(
        self, renderer: Renderer, notice: Notice, contact: Contact, names: Mapping[str, str]
    ) -> dict[str, Any]:
        context = renderer.context(notice, contact, names)
        subject = renderer.subject(notice, context)
        return {
            "@type": "MessageCard",
            "@context": "https://schema.org/extensions",
            "summary": subject,
            "themeColor": "4F6BED",
            "title": renderer.subject(notice, context, teams_escape),
            "text": renderer.chat(notice, context, teams_escape),
            "potentialAction": [
                {
                    "@type": "OpenUri",
                    "name": "Open in Mentorship",
                    "targets": [{"os": "default", "uri": context["link"]}],
                }
            ],
        }

    async def send(self, notification_id: str, address: str, payload: Mapping[str, Any]) -> str | None:
        await self._poster.post("the Teams webhook", address, payload, notification_id)
        return None
