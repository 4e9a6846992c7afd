"""Turning a notice into words for one person: Jinja2 templates under ``templates/``.

Every template has two files:

- ``<name>.txt.j2`` with three blocks: ``subject``, ``text`` (the plain-text email) and
  ``chat`` (the short message for Slack, Teams and webhooks);
- ``<name>.html.j2``, the HTML email, extending ``layout.html.j2``.

What people typed (names, comments, titles) can never change the markup around it: HTML is
autoescaped, and chat text goes through the channel's own escaper, applied by Jinja to every
``{{ }}`` output (``finalize``), so literal template text keeps its formatting while values
cannot add any. Undefined names fail loudly (``StrictUndefined``), which the unit tests use
to render every template with realistic data.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, select_autoescape

from services.notification.contacts import Contact
from services.notification.notices import Notice

TEMPLATES_DIR = Path(__file__).parent / "templates"
UNKNOWN_NAME = "a colleague"

Escaper = Callable[[str], str]


def _no_escape(value: str) -> str:
    return value


@cache
def _environment(kind: str, escaper: Escaper = _no_escape) -> Environment:
    def finalize(value: Any) -> Any:
        return escaper(value) if isinstance(value, str) else value

    return Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False)
        if kind == "html"
        else False,
        undefined=StrictUndefined,
        finalize=finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


def _block(template: Template, block: str, context: Mapping[str, Any]) -> str:
    return "".join(template.blocks[block](template.new_context(dict(context)))).strip()


def format_local(instant: str | datetime, zone: ZoneInfo) -> str:
    """``Tuesday 3 December 2026, 16:00 (Europe/Berlin)``: unambiguous and readable."""
    when = datetime.fromisoformat(instant) if isinstance(instant, str) else instant
    local = when.astimezone(zone)
    return f"{local:%A} {local.day} {local:%B %Y, %H:%M} ({zone.key})"


@dataclass(frozen=True)
class Renderer:
    """Renders notices with the platform's links."""

    app_url: str
    preferences_path: str

    def context(self, notice: Notice, contact: Contact, names: Mapping[str, str]) -> dict[str, Any]:
        zone = contact.zone

        def name(person_id: str | None) -> str:
            return names.get(person_id or "", UNKNOWN_NAME)

        return {
            "d": notice.data,
            "role": notice.role,
            "me": contact.name,
            "me_id": notice.recipient_id,
            "name": name,
            "others": [name(p) for p in notice.mentions],
            "when": lambda instant: format_local(instant, zone),
            "link": f"{self.app_url.rstrip('/')}{notice.link}",
            "preferences_link": f"{self.app_url.rstrip('/')}{self.preferences_path}",
            "has_invite": notice.invite is not None,
            "extra": notice.extra,
        }

    def subject(self, notice: Notice, context: Mapping[str, Any], escaper: Escaper = _no_escape) -> str:
        template = _environment("text", escaper).get_template(f"{notice.template}.txt.j2")
        return " ".join(_block(template, "subject", context).split())

    def text(self, notice: Notice, context: Mapping[str, Any]) -> str:
        template = _environment("text").get_template(f"{notice.template}.txt.j2")
        return _block(template, "text", context)

    def chat(self, notice: Notice, context: Mapping[str, Any], escaper: Escaper) -> str:
        template = _environment("text", escaper).get_template(f"{notice.template}.txt.j2")
        return _block(template, "chat", context)

    def html(self, notice: Notice, context: Mapping[str, Any]) -> str:
        template = _environment("html").get_template(f"{notice.template}.html.j2")
        return template.render(dict(context))
