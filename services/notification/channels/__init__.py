"""Channel adapters: one module per way of reaching a person.

Adding a channel means one module with a ``ChannelAdapter`` subclass (where the person's address
comes from, how a notice is composed into that channel's payload, how it is sent), one line in
``build_adapters``, and the channel's name in the ``Channel`` contract enum.
"""

from __future__ import annotations

from contracts.profile import Channel
from services.notification.channels.base import ChannelAdapter
from services.notification.channels.email import EmailAdapter
from services.notification.channels.http import WebhookPoster
from services.notification.channels.slack import SlackAdapter
from services.notification.channels.teams import TeamsAdapter
from services.notification.channels.webhook import GenericWebhookAdapter
from services.notification.settings import NotificationSettings


def build_adapters(settings: NotificationSettings) -> dict[Channel, ChannelAdapter]:
    poster = WebhookPoster(timeout_seconds=settings.http_timeout_seconds)
    adapters: list[ChannelAdapter] = [
        EmailAdapter(settings.smtp, settings.message_id_domain),
        SlackAdapter(poster),
        TeamsAdapter(poster),
        GenericWebhookAdapter(poster),
    ]
    return {adapter.channel: adapter for adapter in adapters}
