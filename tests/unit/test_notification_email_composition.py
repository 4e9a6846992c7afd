"""A notification email, as its bytes leave for the mail server, reads back in a mail reader
(the email package's parser under its default policy) as what was composed: the names and
addresses, the subject, the plain and HTML text, the calendar invite. Lines end in CRLF, stay
within the lengths the RFCs allow, and no text a person typed adds a header."""

from __future__ import annotations

import re
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.parser import BytesParser, Parser
from email.policy import default
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.notification.channels.base import DeliveryFailure
from services.notification.channels.email import EmailAdapter
from services.notification.settings import SmtpSettings

PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ADDRESS = "ada@example.com"
ICS = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nUID:s-1@mentorship\r\n"
    "SUMMARY:Mentoring with Zoë Ærøskøbing\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)
LONG_LINE = "Ünïcödé " * 200  # one 1,600-character line


def _adapter(from_name: str = "Mentorship") -> EmailAdapter:
    return EmailAdapter(SmtpSettings(from_name=from_name), "mentorship.local")


def _payload(
    *,
    name: str = "Ada Lovelace",
    subject: str = "Your session",
    text: str = "Hello\n",
    html: str = "<p>Hello</p>\n",
    ics: str | None = None,
) -> dict[str, Any]:
    return {
        "to_name": name,
        "subject": subject,
        "text": text,
        "html": html,
        "invite": {"uid": "s-1", "sequence": 0, "ics": ics} if ics is not None else None,
    }


def _raw(payload: dict[str, Any], address: str = ADDRESS, adapter: EmailAdapter | None = None) -> bytes:
    return (adapter or _adapter()).message("n-1", address, payload)


def _read(raw: bytes) -> EmailMessage:
    message = BytesParser(policy=default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    assert not message.defects
    for part in message.walk():
        assert not part.defects
    return message


def _seen(text: str) -> str:
    """Text as a reader shows it: each line break (CR, LF or CRLF) one newline, and a final
    newline; the text as sent ends with one, as it did when the email package wrote it."""
    shown = re.sub(r"\r\n|\r", "\n", text)
    return shown if shown.endswith("\n") else shown + "\n"


def _body(message: EmailMessage, subtype: str) -> str:
    part = message.get_body((subtype,))
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")


def _header_lines(raw: bytes) -> list[bytes]:
    return raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")


def test_a_recipient_sees_the_sender_the_recipient_and_a_stable_message_id() -> None:
    message = _read(_raw(_payload(name="Ada Lovelace")))

    [sender] = message["From"].addresses
    [recipient] = message["To"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Mentorship", "mentorship@example.com")
    assert (recipient.display_name, recipient.addr_spec) == ("Ada Lovelace", ADDRESS)
    assert message["Message-ID"] == "<n-1@mentorship.local>"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["MIME-Version"] == "1.0"
    assert message["Date"].datetime.utcoffset().total_seconds() == 0


@pytest.mark.parametrize(
    "name",
    [
        "Zoë Ärger",
        "王小明",
        "Ada 👩🏽‍💻 Lovelace",
        'Lovelace, Ada "the Countess" (Byron)',
        "O'Brien-Smith",
        "=?utf-8?q?not_an_encoded_word?=",
        "Ada " * 40,
    ],
)
def test_display_names_read_back_as_typed_whatever_their_script_or_punctuation(name: str) -> None:
    to_them = _read(_raw(_payload(name=name)))
    from_them = _read(_raw(_payload(), adapter=_adapter(from_name=name)))

    assert to_them["To"].addresses[0].display_name == name.strip()
    assert from_them["From"].addresses[0].display_name == name.strip()


def _squeezed(text: str) -> str:
    return "".join(text.split())


@pytest.mark.parametrize(
    "name",
    [
        "Марія Олександрівна Шевченко-Коваленко-Бондаренко",
        "王小明王小明王小明王小明王小明王小明王小明",
        "Zoë Ærøskøbing-Ødegård-Ålesund-Ørsted",
    ],
)
def test_a_long_name_outside_ascii_reads_back_exactly_in_a_reader_that_follows_rfc_2047(name: str) -> None:
    raw = _raw(_payload(name=name))
    value = next(line for line in raw.replace(b"\r\n ", b" ").split(b"\r\n") if line.startswith(b"To: "))[
        4:
    ].decode()

    assert str(make_header(decode_header(value))) == f"{name} <{ADDRESS}>"
    # The email package's own parser keeps the space between two encoded-words in a display
    # name (RFC 2047 says to drop it), so it may read a space where one was cut: same letters.
    assert _squeezed(_read(raw)["To"].addresses[0].display_name) == _squeezed(name)
    assert all(len(line) <= 78 for line in _header_lines(raw))


def test_a_person_without_a_name_gets_the_bare_address() -> None:
    raw = _raw(_payload(name=""))

    assert b"\r\nTo: ada@example.com\r\n" in raw
    assert _read(raw)["To"].addresses[0].addr_spec == ADDRESS


@pytest.mark.parametrize(
    "subject",
    [
        "Your session with Ada is booked",
        "Séance réservée : mardi 8 décembre à 10 h",
        "🎉 You earned the Mentor badge 🏅",
        "A subject that goes on " * 12,
        "Ünïcödé subject that goes on and on " * 8,
        "x" * 300,
        "=?utf-8?b?SGVsbG8=?= is not decoded",
    ],
)
def test_subjects_read_back_as_rendered_on_lines_of_at_most_78_characters(subject: str) -> None:
    raw = _raw(_payload(subject=subject))

    assert _read(raw)["Subject"] == subject.strip()
    assert all(len(line) <= 78 for line in _header_lines(raw))


def test_line_breaks_and_controls_in_a_name_or_subject_add_no_header() -> None:
    hostile = "Ada\r\nBcc: eve@example.com\nX-Evil: 1\x00\x1b[31m"
    message = _read(_raw(_payload(name=hostile, subject=hostile)))

    assert message["Bcc"] is None
    assert message["X-Evil"] is None
    assert message["Subject"] == "Ada Bcc: eve@example.com X-Evil: 1 [31m"
    assert message["To"].addresses[0].display_name == "Ada Bcc: eve@example.com X-Evil: 1 [31m"


@pytest.mark.parametrize(
    "address", ["ada@example.com\r\nBcc: eve@example.com", "ada @example.com", "<ada@example.com>", ""]
)
def test_an_address_that_would_break_the_header_is_a_permanent_failure(address: str) -> None:
    with pytest.raises(DeliveryFailure) as failure:
        _raw(_payload(), address=address)

    assert failure.value.permanent


@pytest.mark.parametrize(
    "text",
    [
        "Hello Ada,\nyour session is booked.\n",
        "Grüße, Zoë! Ваша сессия 🎉\n",
        "今日は、メンタリングのセッションが予約されました。" * 30,
        LONG_LINE,
        "x" * 2000,
        "trailing spaces   \nand tabs\t\n.\n..\nFrom the start\n--=_alternative\n=_mixed\n",
        "no final line break",
        "",
        "windows\r\nline\rbreaks\r\n",
    ],
)
def test_both_alternatives_read_back_as_rendered_whatever_their_script_and_line_lengths(text: str) -> None:
    html = f"<p>{text}</p>"
    message = _read(_raw(_payload(text=text, html=html)))

    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    assert _body(message, "plain") == _seen(text)
    assert _body(message, "html") == _seen(html)


def test_every_line_on_the_wire_ends_in_crlf_and_encoded_lines_stay_within_76_characters() -> None:
    raw = _raw(_payload(text=LONG_LINE, html="<p>" + "x" * 2000 + "</p>", ics=ICS))

    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert b"\r" not in raw.replace(b"\r\n", b"")
    assert raw.isascii()
    message = _read(raw)
    for part in message.walk():
        if part.get("Content-Transfer-Encoding") in ("quoted-printable", "base64"):
            encoded = part.get_payload()
            assert isinstance(encoded, str)
            assert all(len(line) <= 76 for line in encoded.splitlines())


def test_short_ascii_text_goes_as_it_is_and_the_rest_encoded() -> None:
    message = _read(_raw(_payload(text="Hello Ada\n", html="<p>Grüße</p>\n")))

    plain, html = message.iter_parts()
    assert plain["Content-Transfer-Encoding"] == "7bit"
    assert html["Content-Transfer-Encoding"] in ("quoted-printable", "base64")


def test_the_invite_is_attached_with_its_bytes_and_method_after_the_alternatives() -> None:
    message = _read(_raw(_payload(text="Grüße\n", ics=ICS)))

    assert message.get_content_type() == "multipart/mixed"
    alternative, invite = message.iter_parts()
    assert alternative.get_content_type() == "multipart/alternative"
    assert _body(message, "plain") == "Grüße\n"
    assert invite.get_content_type() == "text/calendar"
    assert invite.get_param("method") == "REQUEST"
    assert invite.get_filename() == "invite.ics"
    assert invite.get_content_disposition() == "attachment"
    assert invite.get_payload(decode=True) == ICS.encode()
    assert invite.get_content() == ICS


def test_an_invite_without_a_method_is_published() -> None:
    ics = ICS.replace("METHOD:REQUEST\r\n", "")
    [_, invite] = _read(_raw(_payload(ics=ics))).iter_parts()

    assert invite.get_param("method") == "PUBLISH"


def test_an_address_outside_ascii_goes_raw_in_the_header() -> None:
    address = "zoë@bücher.example"
    # Mail readers take such headers as UTF-8 (RFC 6532); BytesParser would not.
    message = Parser(policy=default).parsestr(_raw(_payload(name="Zoë"), address=address).decode())

    assert (message["To"].addresses[0].display_name, message["To"].addresses[0].addr_spec) == ("Zoë", address)


# Text people type: any characters, including line breaks and other controls.
TYPED = st.text(st.characters(exclude_categories=["Cs"]), max_size=200)
# Pieces that meet the encodings' edge cases: spaces before a line break, a lone dot, "=",
# "--" and the boundaries' "=_", CR and LF alone, controls, text outside ASCII.
PIECES = [
    *("Ada", "x", " ", "  ", "\t", "\n", "\r\n", "\r", ".", "=", "=_", "--", "<p>"),
    *("é", "\U0001f469\u200d\U0001f4bb", "\x00", "\x0c"),
]
# Any text; text made of those pieces; lines of every length up to and past 998.
BODIES = (
    st.text(st.characters(exclude_categories=["Cs"]), max_size=3000)
    | st.lists(st.sampled_from(PIECES), max_size=400).map("".join)
    | st.builds(lambda word, n: word * n, st.text(min_size=1, max_size=20), st.integers(1, 200))
)


def _cleaned(text: str) -> str:
    """What ``_header_text`` makes of a typed name or subject: controls as spaces, runs of
    whitespace as one space, none at either end."""
    return " ".join("".join(" " if ord(c) < 32 or 127 <= ord(c) < 160 else c for c in text).split())


@PROPERTY
@given(name=TYPED, subject=TYPED, text=BODIES, html=BODIES, invite=st.booleans())
def test_any_name_subject_and_bodies_read_back_as_composed(
    name: str, subject: str, text: str, html: str, invite: bool
) -> None:
    raw = _raw(_payload(name=name, subject=subject, text=text, html=html, ics=ICS if invite else None))

    assert raw.isascii()
    assert all(len(line) <= 78 for line in _header_lines(raw) if not line.startswith(b"Message-ID"))
    message = _read(raw)
    [recipient] = message["To"].addresses
    # Letters exactly; spaces exactly in the tests above (see the long-name test for why not here).
    assert (_squeezed(recipient.display_name), recipient.addr_spec) == (_squeezed(_cleaned(name)), ADDRESS)
    assert message["Subject"] == _cleaned(subject)
    assert _body(message, "plain") == _seen(text)
    assert _body(message, "html") == _seen(html)
    assert list(message) == [
        "From", "To", "Subject", "Date", "Message-ID", "Auto-Submitted", "MIME-Version", "Content-Type",
    ]  # fmt: skip
    if invite:
        [_, attached] = message.iter_parts()
        assert attached.get_payload(decode=True) == ICS.encode()
