"""Email through SMTP (aiosmtplib): HTML and plain text, the calendar invite attached.

Connections are pooled and reused (opening one per message would cap a burst at the server's
handshake rate). Each message has a ``Message-ID`` derived from its notification id, so a mail
system that drops repeated Message-IDs also drops a resend after a crash. The message is
written as bytes by ``mime.compose`` and handed to the server as they are (see that module for
why not ``EmailMessage``).
"""

from __future__ import annotations

import asyncio
import re
import ssl
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import aiosmtplib

from contracts.profile import Channel
from services.notification.channels import mime
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

    async def send(self, sender: str, recipient: str, message: bytes) -> None:
        client = await self._idle.get()
        try:
            if client is None or not client.is_connected:
                client = self._client()
                await client.connect()
            # An address that is not ASCII travels raw in the envelope and the headers, which
            # only a server offering SMTPUTF8 accepts (aiosmtplib refuses to send otherwise).
            utf8 = not (sender.isascii() and recipient.isascii())
            await client.sendmail(sender, [recipient], message, mail_options=["SMTPUTF8"] if utf8 else None)
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


# Whitespace (Unicode's, which includes the line breaks), the C0 and C1 controls, angle brackets.
_NOT_IN_ADDRESS = re.compile(r"[\s\x00-\x1f\x7f-\x9f<>]")


def _deliverable(address: str) -> bool:
    """Whether an address can go into the To header as it is: no spaces, controls or angle
    brackets that would end it early or start a header of its own (profiles hold validated
    addresses; this guards the header, not the address's syntax, which the server judges)."""
    return bool(address) and _NOT_IN_ADDRESS.search(address) is None


class EmailAdapter(ChannelAdapter):
    channel = Channel.EMAIL

    def __init__(self, settings: SmtpSettings, message_id_domain: str) -> None:
        self._settings = settings
        self._domain = message_id_domain
        self._pool = _Pool(settings)
        self._from = mime.mailbox("From", _header_text(settings.from_name), settings.from_address)

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

    def message_id(self, notification_id: str) -> str:
        """The Message-ID of a notification's email: the same for every attempt to send it."""
        return f"<{notification_id}@{self._domain}>"

    def message(self, notification_id: str, address: str, payload: Mapping[str, Any]) -> bytes:
        """The MIME message as sent: text and HTML alternatives, plus the invite as an .ics
        attachment."""
        if not _deliverable(address):
            raise DeliveryFailure("the email address cannot be written in a header", permanent=True)
        invite = payload.get("invite")
        headers = [
            self._from,
            mime.mailbox("To", _header_text(payload["to_name"]), address),
            mime.unstructured("Subject", _header_text(payload["subject"])),
            f"Date: {format_datetime(datetime.now(UTC))}",
            f"Message-ID: {self.message_id(notification_id)}",
            "Auto-Submitted: auto-generated",
        ]
        return mime.compose(
            headers,
            payload["text"],
            payload["html"],
            mime.Invite(invite["ics"], _calendar_method(invite["ics"])) if invite else None,
        )

    async def send(self, notification_id: str, address: str, payload: Mapping[str, Any]) -> str | None:
        message = self.message(notification_id, address, payload)
        try:
            await self._pool.send(self._settings.from_address, address, message)
        except Exception as error:
            raise _failure(error) from error
        return self.message_id(notification_id)

    async def close(self) -> None:
        await self._pool.close()
