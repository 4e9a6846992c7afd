"""The bytes of a notification email, written directly rather than through ``EmailMessage``.

``EmailMessage`` under the default policy parses every header it is given through the header
registry and re-folds every header when flattened; for a burst of notifications that was about a
quarter of the notification service's processor time. Every email we send has the same shape
(text and HTML alternatives, perhaps a calendar invite), so the shape is written out here, with
the few encodings it needs done by ``binascii`` in C.

What a recipient sees is what ``EmailMessage`` produced: the same headers, the same parts, the
same decoded text. The output is 7-bit clean (non-ASCII header text as RFC 2047 encoded-words,
bodies as quoted-printable or base64 unless they are printable ASCII), so it needs no
8BITMIME from the server; lines end in CRLF and stay within 78 characters in headers (unless an
address alone is longer) and 76 in encoded bodies.
"""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass

CRLF = "\r\n"
_MAX_HEADER_LINE = 78
_MAX_7BIT_LINE = 998
# Both boundaries start with "=_", which quoted-printable and base64 output never holds and a
# 7-bit part is not allowed to hold (see ``_body``); neither is a prefix of the other, for the
# mail readers that match a delimiter line by its prefix.
ALTERNATIVE_BOUNDARY = "=_alternative"
MIXED_BOUNDARY = "=_mixed"
# Bytes a 7-bit part may not carry as they are: controls other than tab and line breaks, and the
# boundaries' common start.
_NOT_7BIT = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|=_")
# RFC 5322 atom text: an ASCII display-name word made only of it needs no quotes.
_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+")
# UTF-8 bytes in one base64 encoded-word: it is at most 75 characters (RFC 2047), 12 of them
# "=?utf-8?b?" and "?=", and it must fit on the first line after "Subject: ", so 69 characters,
# 56 of base64.
_WORD_BYTES = 42
# An ASCII word longer than this goes encoded, so that it can be cut to fit on lines.
_LONG_WORD = 60


def _utf8_chunks(data: bytes, size: int) -> list[bytes]:
    """``data`` cut into pieces of at most ``size`` bytes, never inside a UTF-8 sequence
    (RFC 2047 wants whole characters in each encoded-word)."""
    chunks = []
    start = 0
    while start < len(data):
        end = start + size
        if end < len(data):
            # Back off over continuation bytes (10xxxxxx) to the start of a character.
            while data[end] & 0xC0 == 0x80:
                end -= 1
        chunks.append(data[start:end])
        start = end
    return chunks


def _encoded_words(text: str) -> list[str]:
    return [
        f"=?utf-8?b?{binascii.b2a_base64(chunk, newline=False).decode()}?="
        for chunk in _utf8_chunks(text.encode(), _WORD_BYTES)
    ]


def _plain(word: str, *, phrase: bool) -> str | None:
    """The word as it can go unencoded, or None when it cannot: it is not ASCII, it holds "=?"
    (which a reader would take for the start of an encoded-word), or it is too long to fold."""
    if not word.isascii() or "=?" in word:
        return None
    plain = word if not phrase or _ATOM.fullmatch(word) else _quoted(word)
    return plain if len(plain) <= _LONG_WORD else None


def _words(text: str, *, phrase: bool) -> list[str]:
    """``text`` (single spaces between words, no controls: ``_header_text`` made it so) as
    header words to be joined by folding whitespace.

    ASCII words go as they are (in a display name, quoted unless they are atoms); each run of
    other words becomes encoded-words, the spaces inside the run encoded with it. The space
    between two encoded-words is not part of the text (RFC 2047), but the space between an
    encoded-word and a plain word is, so the words read back exactly. Encoding only the runs
    that need it is also what the email package does, and for a reason beyond readability:
    its parser keeps the space between adjacent encoded-words in a display name, so a name
    written as one encoded-word per line would read back with spaces in the middle of words.
    """
    out: list[str] = []
    run: list[str] = []
    for word in text.split(" "):
        plain = _plain(word, phrase=phrase)
        if plain is None:
            run.append(word)
            continue
        if run:
            out.extend(_encoded_words(" ".join(run)))
            run = []
        out.append(plain)
    if run:
        out.extend(_encoded_words(" ".join(run)))
    return out


def _fold(name: str, words: list[str]) -> str:
    """A header line of ``words`` joined by spaces, folded before a word that would take the
    line past 78 characters (a word longer than a line gets one of its own)."""
    lines = [f"{name}: {words[0]}"]
    for word in words[1:]:
        if len(lines[-1]) + 1 + len(word) <= _MAX_HEADER_LINE:
            lines[-1] += " " + word
        else:
            lines.append(" " + word)
    return CRLF.join(lines)


def unstructured(name: str, text: str) -> str:
    """A text header such as ``Subject`` with what is not plain ASCII as encoded-words,
    folded at spaces within 78 characters."""
    return _fold(name, _words(text, phrase=False))


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def mailbox(name: str, display_name: str, address: str) -> str:
    """An address header line, ``Display Name <address>``, or the bare address when there is
    no name."""
    if not display_name:
        return f"{name}: {address}"
    return _fold(name, [*_words(display_name, phrase=True), f"<{address}>"])


def _base64_lines(data: bytes) -> bytes:
    # 57 bytes make one 76-character line of base64.
    lines = (binascii.b2a_base64(data[i : i + 57]).replace(b"\n", b"\r\n") for i in range(0, len(data), 57))
    return b"".join(lines)


def _body(text: str) -> tuple[str, bytes]:
    """The transfer encoding and encoded bytes of a UTF-8 text part.

    Line breaks (LF, CR or CRLF) become CRLF and the text ends with one, as ``EmailMessage``
    did. Printable ASCII in lines of at most 998 bytes goes as it is (7bit); anything else as
    quoted-printable, which keeps mostly-ASCII text readable in the raw message, or as base64
    when that is shorter (text mostly outside Latin script).
    """
    lines = text.encode().splitlines()
    data = CRLF.encode().join(lines) + b"\r\n"
    if data.isascii() and max(map(len, lines), default=0) <= _MAX_7BIT_LINE and not _NOT_7BIT.search(data):
        return "7bit", data
    quoted = binascii.b2a_qp(data, istext=True)
    if not quoted.endswith(b"\r\n"):
        quoted += b"\r\n"
    # base64 is 4 characters for 3 bytes plus a CRLF for each 76; quoted-printable wins ties.
    if len(quoted) <= len(data) * 4 // 3 + len(data) // 57 * 2 + 6:
        return "quoted-printable", quoted
    return "base64", _base64_lines(data)


def _text_part(subtype: str, text: str) -> bytes:
    cte, body = _body(text)
    head = f'Content-Type: text/{subtype}; charset="utf-8"{CRLF}Content-Transfer-Encoding: {cte}{CRLF}{CRLF}'
    return head.encode() + body


def _multipart(boundary: str, parts: list[bytes]) -> bytes:
    # The CRLF before a delimiter belongs to the delimiter (RFC 2046), so each part, which ends
    # in a line break of its own, gets one more to keep it.
    delimiter = f"--{boundary}\r\n".encode()
    return b"".join(delimiter + part + b"\r\n" for part in parts) + f"--{boundary}--\r\n".encode()


@dataclass(frozen=True, slots=True)
class Invite:
    """A calendar invite to attach: the iCalendar text and its ``METHOD``."""

    ics: str
    method: str


def compose(headers: list[str], text: str, html: str, invite: Invite | None) -> bytes:
    """The whole message: ``headers`` (complete lines, without line ends, before the MIME
    headers) then the text and HTML alternatives, inside multipart/mixed with the invite
    attached as ``invite.ics`` when there is one.

    Header lines may hold UTF-8 (an address that is not ASCII; the caller then asks the server
    for SMTPUTF8); everything else is ASCII.
    """
    alternative = _multipart(ALTERNATIVE_BOUNDARY, [_text_part("plain", text), _text_part("html", html)])
    head = CRLF.join([*headers, "MIME-Version: 1.0", ""])
    alternative_type = f'Content-Type: multipart/alternative; boundary="{ALTERNATIVE_BOUNDARY}"{CRLF}{CRLF}'
    if invite is None:
        return (head + alternative_type).encode() + alternative
    attachment = (
        f'Content-Type: text/calendar; charset="utf-8"; method={_quoted(invite.method)}{CRLF}'
        f'Content-Disposition: attachment; filename="invite.ics"{CRLF}'
        f"Content-Transfer-Encoding: base64{CRLF}{CRLF}"
    ).encode() + _base64_lines(invite.ics.encode())
    mixed_type = f'Content-Type: multipart/mixed; boundary="{MIXED_BOUNDARY}"{CRLF}{CRLF}'
    parts = [alternative_type.encode() + alternative, attachment]
    return (head + mixed_type).encode() + _multipart(MIXED_BOUNDARY, parts)
