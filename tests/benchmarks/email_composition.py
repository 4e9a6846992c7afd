"""`make bench`: what composing one notification email costs, from the rendered payload to the
bytes handed to the SMTP client, beside the way it was done before in the same process: an
``EmailMessage`` built under the default policy and flattened by aiosmtplib as ``send_message``
did. No servers: composition is pure processor time, and the service's throughput in a burst is
bound by processor time.

    python -m tests.benchmarks.email_composition [--count 2000] [--rounds 3]

Two payloads, rendered by the service's own templates for a person with a name outside ASCII:
a session reminder (text and HTML) and a booked session (text, HTML and the calendar invite).
Each way composes ``--count`` emails per round; rounds alternate the two ways, and the best
round of each is shown (the machine is shared; the best round is the least disturbed).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Mapping
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from email.utils import formatdate
from typing import Any

from aiosmtplib.email import flatten_message

from contracts.catalogue import SCHEDULING_EVENTS
from contracts.envelope import Envelope
from contracts.examples import example
from contracts.profile import Channel
from services.notification.channels.email import EmailAdapter, _calendar_method, _header_text
from services.notification.contacts import Contact
from services.notification.notices import Notice, notices_for
from services.notification.rendering import Renderer
from services.notification.settings import SmtpSettings

ADDRESS = "zoe.aerger@example.com"
RENDERER = Renderer("https://mentoring.example.com", "/settings/notifications")


def _notice(message_type: str, *, invite: bool) -> Notice:
    cls = next(c for c in SCHEDULING_EVENTS.messages if c.message_type() == message_type)
    event: Envelope = cls.model_validate(example(cls))
    return next(n for n in notices_for(event) if (n.invite is not None) == invite)


def _payload(adapter: EmailAdapter, notice: Notice) -> dict[str, Any]:
    contact = Contact(
        person_id=notice.recipient_id,
        name="Zoë Ärger-Łukasiewicz",
        email=ADDRESS,
        time_zone="Europe/Berlin",
        active=True,
        channels=(Channel.EMAIL,),
    )
    return adapter.compose(RENDERER, notice, contact, {})


Composer = Callable[[str, str, Mapping[str, Any]], bytes]


def email_package(settings: SmtpSettings, domain: str) -> Composer:
    """The baseline: the message as the adapter built it before, flattened as aiosmtplib's
    ``send_message`` did for a server with 8BITMIME (Mailpit has it)."""

    def build(notification_id: str, address: str, payload: Mapping[str, Any]) -> bytes:
        message = EmailMessage()
        message["From"] = Address(display_name=settings.from_name, addr_spec=settings.from_address)
        message["To"] = Address(display_name=_header_text(payload["to_name"]), addr_spec=address)
        message["Subject"] = _header_text(payload["subject"])
        message["Date"] = formatdate(localtime=False, usegmt=True)
        message["Message-ID"] = f"<{notification_id}@{domain}>"
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
        return flatten_message(message, utf8=False, cte_type="8bit")

    return build


def _read(raw: bytes) -> list[str]:
    """What a reader shows of a message: the To name, the subject and each text part."""
    message = BytesParser(policy=default).parsebytes(raw)
    shown = [message["To"].addresses[0].display_name, str(message["Subject"])]
    for part in message.walk():
        if part.get_content_maintype() == "text":
            content = part.get_content()
            shown.append(content.replace("\r\n", "\n") if isinstance(content, str) else repr(content))
    return shown


def _timed(compose: Composer, payload: Mapping[str, Any], count: int) -> tuple[float, float]:
    """Milliseconds per email: wall clock and this process's processor time."""
    wall, cpu = time.perf_counter(), time.process_time()
    for index in range(count):
        compose(f"n-{index}", ADDRESS, payload)
    return (time.perf_counter() - wall) * 1000 / count, (time.process_time() - cpu) * 1000 / count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=2_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)

    settings = SmtpSettings()
    adapter = EmailAdapter(settings, "mentorship.local")
    ways: dict[str, Composer] = {
        "EmailMessage build + flatten (before)": email_package(settings, "mentorship.local"),
        "mime.compose (now)": adapter.message,
    }
    payloads = {
        "reminder, no invite": _payload(adapter, _notice("scheduling.reminder_due", invite=False)),
        "session booked, invite": _payload(adapter, _notice("scheduling.session_scheduled", invite=True)),
    }
    print(f"{args.count} emails per round, best of {args.rounds} rounds")
    print(f"{'payload':24} {'composer':40} {'wall ms/email':>14} {'cpu ms/email':>13} {'bytes':>6}")
    for label, payload in payloads.items():
        made = {way: compose("n-0", ADDRESS, payload) for way, compose in ways.items()}
        readings = {way: _read(raw) for way, raw in made.items()}
        if len({repr(reading) for reading in readings.values()}) != 1:
            raise SystemExit(f"the two ways read back differently for {label}: {readings}")
        best: dict[str, tuple[float, float]] = {}
        for _ in range(args.rounds):
            for way, compose in ways.items():
                wall, cpu = _timed(compose, payload, args.count)
                best[way] = min(best.get(way, (wall, cpu)), (wall, cpu))
        for way, (wall, cpu) in best.items():
            print(f"{label:24} {way:40} {wall:14.3f} {cpu:13.3f} {len(made[way]):6}")
        before, now = best.values()
        print(f"{'':24} {'processor time, before / now':40} {before[1] / now[1]:27.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
