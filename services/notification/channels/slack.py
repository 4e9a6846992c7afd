"""Slack through the person's incoming webhook, as Block Kit: a header, the message in
mrkdwn, a button to the platform, and a line on how to change preferences."""

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

_FORMATTING = re.compile(r"([*_~`])")
_ZERO_WIDTH_SPACE = "\u200b"


def slack_escape(value: str) -> str:
    """Slack's mrkdwn control characters; escaping them keeps user text from forming links or
    mentions (``<!channel>``, ``<@U123>``). Mrkdwn has no escape for its formatting marks, so
    each gets a zero-width space on both sides: it can then neither open nor close bold,
    italics, strike-through or code, and the text still reads as typed."""
    escaped = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _FORMATTING.sub(f"{_ZERO_WIDTH_SPACE}\\1{_ZERO_WIDTH_SPACE}", escaped)


class SlackAdapter(ChannelAdapter):
    channel = Channel.SLACK

    def __init__(self, poster: WebhookPoster) -> None:
        self._poster = poster

    def address_of(self, contact: Contact) -> str | None:
        return contact.slack_webhook_url

    def compose(
        self, renderer: Renderer, notice: Notice, contact: Contact, names: Mapping[str, str]
    ) -> dict[str, Any]:
        context = renderer.context(notice, contact, names)
        subject = renderer.subject(notice, context)
        text = renderer.chat(notice, context, slack_escape)
        if contact.slack_user_id:
            text = f"<@{slack_escape(contact.slack_user_id)}> {text}"
        return {
            "text": subject,  # the notification preview and the fallback for old clients
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": subject[:150], "emoji": True}},
                {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}},
                {
                    "type": "actions",
                    "elements": [
                        {
                            "type": "button",
                            "text": {"type": "plain_text", "text": "Open in Mentorship"},
                            "url": context["link"],
                        }
                    ],
                },
                {
                    "type": "context",
                    "elements": [
                        {
                            "type": "mrkdwn",
                            "text": f"<{context['preferences_link']}|Notification preferences>",
                        }
                    ],
                },
            ],
        }

    async def send(self, notification_id: str, address: str, payload: Mapping[str, Any]) -> str | None:
        await self._poster.post("the Slack webhook", address, payload, notification_id)
        return None
