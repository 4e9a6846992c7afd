"""What every channel adapter provides, and how a failed send is described."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

from contracts.profile import Channel
from services.notification.contacts import Contact
from services.notification.notices import Notice
from services.notification.rendering import Renderer


class DeliveryFailure(Exception):
    """A send that did not get through.

    ``reason`` is safe to log and to show any operator (no addresses, no message text);
    ``detail`` may quote the server's answer, which can contain an address, so it is kept for
    authorised callers only. ``permanent`` failures are never retried.
    """

    def __init__(
        self, reason: str, *, permanent: bool, retry_after: float | None = None, detail: str | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.retry_after = retry_after
        self.detail = detail


class ChannelAdapter(ABC):
    channel: ClassVar[Channel]

    @abstractmethod
    def address_of(self, contact: Contact) -> str | None:
        """Where this person is reached on this channel, or None when they gave no address."""

    @abstractmethod
    def compose(
        self, renderer: Renderer, notice: Notice, contact: Contact, names: Mapping[str, str]
    ) -> dict[str, Any]:
        """The channel's payload for this notice, stored so retries send exactly the same."""

    @abstractmethod
    async def send(self, notification_id: str, address: str, payload: Mapping[str, Any]) -> str | None:
        """Send it; the provider's message id when there is one. Raises ``DeliveryFailure``."""

    async def close(self) -> None:
        """Release connections; the default adapter holds none."""
        return
