"""Email through SMTP (aiosmtplib): HTML and plain text, the calendar invite attached.

Connections are pooled and reused (opening one per message would cap a burst at the server's
handshake rate). Each message has a ``Message-ID`` derived from its notification id, so a mail
system that drops repeated Message-IDs also drops a resend after a crash.
"""

from __future__ import annotations

import asyncio
import ssl
import unicodedata
from collections.abc import Mapping
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

import aiosmtplib

from contracts.profile import Channel
from services.notification.channels.base import ChannelAdapter, DeliveryFailure
from services.notification.contacts import Contact
from services.notification.notices import Notice
from services.notification.rendering import Renderer
from services.notification.settings import SmtpSettings

_CONNECTION_ERRORS = (
    aiosmtplib.SMTPConnectError,
    aiosmtplib.SMTPServerDisconnected,
    aiosmtplib.SMTPTimeoutError,
)


def _failure(error: Exception) -> DeliveryFailure:
    """SMTP 4xx and connection trouble are worth retrying; 5xx answers are final."""
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in error.recipients]
        permanent = all(code >= 500 for code in codes)
        word = "refused" if permanent else "deferred"
        return DeliveryFailure(
            f"the mail server {word} the recipient (SMTP {codes[0] if codes else '?'})",
            permanent=permanent,
            detail="; ".join(r.message for r in error.recipients)[:500],
        )
    if isinstance(error, aiosmtplib.SMTPAuthenticationError):
        # A platform misconfiguration, not a bad message: retry, so a fixed password recovers it.
        return DeliveryFailure(f"SMTP authentication failed ({error.code})", permanent=False)
    if isinstance(error, _CONNECTION_ERRORS):
        return DeliveryFailure(f"the mail server is unreachable: {type(error).__name__}", permanent=False)
    if isinstance(error, aiosmtplib.SMTPResponseException):
        return DeliveryFailure(
            f"the mail server answered SMTP {error.code}",
            permanent=error.code >= 500,
            detail=error.message[:500],
        )
    return DeliveryFailure(f"sending mail failed: {type(error).__name__}", permanent=False)


def _calendar_method(ics: str) -> str:
    for line in ics.splitlines():
        if line.upper().startswith("METHOD:"):
            return line.split(":", 1)[1].strip().upper()
    return "PUBLISH"


class _Pool:
    """A fixed number of SMTP connections, opened lazily, replaced when they break."""

    def __init__(self, settings: SmtpSettings) -> None:
        self._settings = settings
        self._idle: asyncio.Queue[aiosmtplib.SMTP | None] = asyncio.Queue()
        for _ in range(settings.connections):
            self._idle.put_nowait(None)

    def _client(self) -> aiosmtplib.SMTP:
        s = self._settings
        context = ssl.create_default_context(cafile=s.ca_file) if s.security != "none" else None
        return aiosmtplib.SMTP(
            hostname=s.host,
            port=s.port,
            username=s.username,
            password=s.password.get_secret_value() if s.password else None,
            use_tls=s.security == "tls",
            start_tls=s.security == "starttls",
            tls_context=context,
            timeout=s.timeout_seconds,
        )

    async def send(self, message: EmailMessage) -> None:
        client = await self._idle.get()
        try:
            if client is None or not client.is_connected:
                client = self._client()
                await client.connect()
            await client.send_message(message)
        except Exception:
            if client is not None and client.is_connected:
                client.close()
            client = None
            raise
        finally:
            self._idle.put_nowait(client)

    async def close(self) -> None:
        while not self._idle.empty():
            client = self._idle.get_nowait()
            if client is not None and client.is_connected:
                try:
                    await client.quit()
                except aiosmtplib.SMTPException:
                    client.close()


def _header_text(value: str) -> str:
    """Text for a mail header on one line: a name may hold line breaks or other control
    characters (HR systems send what people typed), which the email package refuses in an
    address and which could otherwise start a header of their own."""
    return " ".join("".join(" " if unicodedata.category(c) == "Cc" else c for c in value).split())


class EmailAdapter(ChannelAdapter):
    channel = Channel.EMAIL

    def __init__(self, settings: SmtpSettings, message_id_domain: str) -> None:
        self._settings = settings
        self._domain = message_id_domain
        self._pool = _Pool(settings)

    def address_of(self, contact: Contact) -> str | None:
        return contact.email or None

    def compose(
        self, renderer: Renderer, notice: Notice, contact: Contact, names: Mapping[str, str]
    ) -> dict[str, Any]:
        context = renderer.context(notice, contact, names)
        invite = notice.invite
        return {
            "to_name": contact.name,
            "subject": renderer.subject(notice, context),
            "text": renderer.text(notice, context),
            "html": renderer.html(notice, context),
            "invite": {"uid": invite.uid, "sequence": invite.sequence, "ics": invite.ics} if invite else None,
        }

    def message(self, notification_id: str, address: str, payload: Mapping[str, Any]) -> EmailMessage:
        """The MIME message: text and HTML alternatives, plus the invite as an .ics attachment."""
        s = self._settings
        message = EmailMessage()
        message["From"] = Address(display_name=s.from_name, addr_spec=s.from_address)
        message["To"] = Address(display_name=_header_text(payload["to_name"]), addr_spec=address)
        message["Subject"] = _header_text(payload["subject"])
        message["Date"] = formatdate(localtime=False, usegmt=True)
        message["Message-ID"] = f"<{notification_id}@{self._domain}>"
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(payload["text"])
        message.add_alternative(payload["html"], subtype="html")
        invite = payload.get("invite")
        if invite:
            message.add_attachment(
                invite["ics"].encode(),
                maintype="text",
                subtype="calendar",
                filename="invite.ics",
                params={"method": _calendar_method(invite["ics"])},
            )
        return message

    async def send(self, notification_id: str, address: str, payload: Mapping[str, Any]) -> str | None:
        message = self.message(notification_id, address, payload)
        try:
            await self._pool.send(message)
        except Exception as error:
            raise _failure(error) from error
        return str(message["Message-ID"])

    async def close(self) -> None:
        await self._pool.close()
