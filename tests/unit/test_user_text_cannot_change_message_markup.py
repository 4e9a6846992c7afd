"""Whatever people type (names, kudos, titles, notes) stays text in every message the
notification service renders: it adds no HTML element to an email, no link, mention or
formatting to Slack mrkdwn or a Teams card, and no header to a mail. Property-based: every
notified event, drawn with hostile text in its free-text fields, rendered for people with
hostile names, beside the same event for people with plain names."""

from __future__ import annotations

import email
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from email.message import EmailMessage
from email.policy import default
from html.parser import HTMLParser
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.catalogue import MATCHING_EVENTS, RECOGNITION_EVENTS, SCHEDULING_EVENTS, decode
from contracts.examples import example
from contracts.profile import Channel
from services.notification.channels import build_adapters
from services.notification.channels.email import EmailAdapter
from services.notification.channels.slack import slack_escape
from services.notification.contacts import Contact
from services.notification.notices import Notice, notices_for
from services.notification.rendering import Renderer
from services.notification.settings import NotificationSettings
from tests.fuzzing.strategies import INJECTIONS, hostile_text, valid_message

RENDERER = Renderer("https://mentoring.example.com", "/settings/notifications")
ADAPTERS = build_adapters(NotificationSettings())
PLAIN = "Plain Name"
ZWSP = "\u200b"
NOTIFIED = (MATCHING_EVENTS, SCHEDULING_EVENTS, RECOGNITION_EVENTS)
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class Everyone(Mapping[str, str]):
    """Names of everyone a message may mention: the same for each person id."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __getitem__(self, _person_id: str) -> str:
        return self.name

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def _contact(person_id: str, name: str) -> Contact:
    return Contact(
        person_id=person_id,
        name=name,
        email=f"{person_id.lower()}@example.com",
        time_zone="Europe/Berlin",
        active=True,
        channels=tuple(Channel),
        slack_webhook_url="https://hooks.example.com/slack",
        slack_user_id="U0CONTACT1",
        teams_webhook_url="https://hooks.example.com/teams",
        webhook_url="https://hooks.example.com/generic",
    )


def _render(channel: Channel, notice: Notice, name: str) -> dict[str, Any]:
    return ADAPTERS[channel].compose(RENDERER, notice, _contact(notice.recipient_id, name), Everyone(name))


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, tuple[tuple[str, str | None], ...]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, tuple(attrs)))


def html_elements(html: str) -> list[tuple[str, tuple[tuple[str, str | None], ...]]]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


def slack_markup(text: str) -> Counter[str]:
    """What Slack would act on: ``<…>`` links and mentions, and formatting characters not
    fenced off by zero-width spaces."""
    found: Counter[str] = Counter(re.findall(r"<[^>]*>", text))
    for index, char in enumerate(text):
        if char in "*_~`":
            fenced = text[index - 1 : index] == ZWSP and text[index + 1 : index + 2] == ZWSP
            if not fenced:
                found[char] += 1
    return found


def teams_markup(text: str) -> Counter[str]:
    """Markdown characters not escaped by a backslash, and raw angle brackets."""
    found: Counter[str] = Counter()
    escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in "`*_{}[]()#+-.!|~<>":
            found[char] += 1
    return found


# Events someone hears about (the rest make no notice, so there is nothing to render).
ANNOUNCED = {
    spec: tuple(m for m in spec.messages if notices_for(m.model_validate(example(m)))) for spec in NOTIFIED
}


@st.composite
def hostile_notice(draw: st.DrawFn) -> tuple[Notice, list[str]]:
    """A notice of any announced event with hostile free text, and that text."""
    spec = draw(st.sampled_from(NOTIFIED))
    fuzzed = draw(valid_message(spec, ANNOUNCED[spec]))
    assert fuzzed.value is not None
    notices = notices_for(decode(spec.name, fuzzed.value))
    return draw(st.sampled_from(notices)), list(fuzzed.hostile.values())


def _markup_in(text: str, special: str) -> bool:
    return any(char in special for char in text)


@PROPERTY
@given(drawn=hostile_notice(), name=hostile_text())
def test_text_people_typed_adds_no_element_to_an_html_email(
    drawn: tuple[Notice, list[str]], name: str
) -> None:
    notice, typed = drawn
    html = _render(Channel.EMAIL, notice, name)["html"]

    assert html_elements(html) == html_elements(_render(Channel.EMAIL, notice, PLAIN)["html"])
    for text in [name, *typed]:
        if _markup_in(text, "<>&"):
            assert text not in html


@PROPERTY
@given(drawn=hostile_notice(), name=hostile_text())
def test_text_people_typed_adds_no_link_mention_or_formatting_to_slack(
    drawn: tuple[Notice, list[str]], name: str
) -> None:
    notice, typed = drawn
    section = _render(Channel.SLACK, notice, name)["blocks"][1]["text"]["text"]
    plain = _render(Channel.SLACK, notice, PLAIN)["blocks"][1]["text"]["text"]

    assert slack_markup(section) == slack_markup(plain)
    for text in [name, *typed]:
        if _markup_in(text, "<>*_~`"):
            assert text not in section


@PROPERTY
@given(drawn=hostile_notice(), name=hostile_text())
def test_text_people_typed_adds_no_markdown_or_html_to_a_teams_card(
    drawn: tuple[Notice, list[str]], name: str
) -> None:
    notice, typed = drawn
    card = _render(Channel.TEAMS, notice, name)
    plain = _render(Channel.TEAMS, notice, PLAIN)

    assert teams_markup(card["text"]) == teams_markup(plain["text"])
    assert teams_markup(card["title"]) == teams_markup(plain["title"])
    for text in [name, *typed]:
        if _markup_in(text, "`*_[]()#<>|~"):
            assert text not in card["text"]


@PROPERTY
@given(drawn=hostile_notice(), name=hostile_text())
def test_the_generic_webhook_carries_names_as_plain_data_exactly_as_typed(
    drawn: tuple[Notice, list[str]], name: str
) -> None:
    notice, _ = drawn
    body = _render(Channel.WEBHOOK, notice, name)
    plain = _render(Channel.WEBHOOK, notice, PLAIN)

    # JSON is the only encoding a webhook consumer needs: the name is put in as it is.
    assert body["text"] == plain["text"].replace(PLAIN, name)
    assert body["subject"] == " ".join(plain["subject"].replace(PLAIN, name).split())


@PROPERTY
@given(drawn=hostile_notice(), name=hostile_text())
def test_a_name_with_line_breaks_or_control_characters_adds_no_mail_header(
    drawn: tuple[Notice, list[str]], name: str
) -> None:
    notice, _ = drawn
    adapter = ADAPTERS[Channel.EMAIL]
    assert isinstance(adapter, EmailAdapter)
    payload = _render(Channel.EMAIL, notice, name)

    raw = adapter.message("n-1", "ada@example.com", payload)

    parsed = email.message_from_bytes(raw, policy=default)
    assert isinstance(parsed, EmailMessage)
    assert [a.addr_spec for a in parsed["To"].addresses] == ["ada@example.com"]
    assert parsed["Bcc"] is None
    assert parsed["Cc"] is None
    assert "\n" not in str(parsed["Subject"])


def test_slack_escaping_keeps_every_character_a_person_typed_visible() -> None:
    for text in INJECTIONS:
        shown = re.sub(f"{ZWSP}([*_~`]){ZWSP}", r"\1", slack_escape(text))
        assert shown.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&") == text
