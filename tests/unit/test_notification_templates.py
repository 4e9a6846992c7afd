"""Every notice renders on every channel, in kind words, and what people typed stays text."""

from __future__ import annotations

import email
from email.message import EmailMessage
from email.policy import default
from typing import Any

import pytest

from contracts.catalogue import MATCHING_EVENTS, RECOGNITION_EVENTS, SCHEDULING_EVENTS
from contracts.envelope import Envelope
from contracts.examples import example
from contracts.profile import Channel
from services.notification.channels import build_adapters
from services.notification.channels.email import EmailAdapter
from services.notification.contacts import Contact
from services.notification.notices import TEMPLATES, Notice, Priority, notices_for
from services.notification.rendering import TEMPLATES_DIR, Renderer
from services.notification.settings import NotificationSettings

RENDERER = Renderer("https://mentoring.example.com", "/settings/notifications")
ADAPTERS = build_adapters(NotificationSettings())
NOTIFIED = [cls for spec in (MATCHING_EVENTS, SCHEDULING_EVENTS, RECOGNITION_EVENTS) for cls in spec.messages]
# Events that change nothing a person needs to act on, or that others already announce.
SILENT = {
    "matching.match_declined",
    "matching.proposal_expired",
    "matching.match_paused",
    "matching.match_resumed",
    "matching.cohort_round_completed",
    "scheduling.session_completed",
    "scheduling.office_hours_published",
    "scheduling.group_session_announced",
    "recognition.points_awarded",  # badges and digests say it better than every single entry
}


def _contact(person_id: str, name: str = "Ada Lovelace", **changes: Any) -> Contact:
    fields: dict[str, Any] = {
        "person_id": person_id,
        "name": name,
        "email": f"{person_id.lower()}@example.com",
        "time_zone": "Europe/Berlin",
        "active": True,
        "channels": tuple(Channel),
        "slack_webhook_url": "https://hooks.example.com/slack",
        "teams_webhook_url": "https://hooks.example.com/teams",
        "webhook_url": "https://hooks.example.com/generic",
    }
    return Contact(**(fields | changes))


def _event(cls: type[Envelope]) -> Envelope:
    return cls.model_validate(example(cls))


def _all_notices() -> list[Notice]:
    return [notice for cls in NOTIFIED for notice in notices_for(_event(cls))]


def test_every_template_has_a_text_and_an_html_file_and_no_file_is_unused() -> None:
    on_disk = {p.name for p in TEMPLATES_DIR.glob("*.j2")} - {"layout.html.j2"}
    expected = {f"{t}.{kind}.j2" for t in TEMPLATES for kind in ("txt", "html")}
    assert on_disk == expected


@pytest.mark.parametrize("cls", NOTIFIED, ids=lambda cls: cls.message_type())
def test_each_event_people_should_hear_about_makes_a_notice_and_the_rest_stay_silent(
    cls: type[Envelope],
) -> None:
    notices = notices_for(_event(cls))
    if cls.message_type() in SILENT:
        assert notices == []
    else:
        assert notices
        assert len({n.recipient_id for n in notices}) == len(notices)


@pytest.mark.parametrize("notice", _all_notices(), ids=lambda n: f"{n.template}-{n.role}-{n.recipient_id}")
def test_every_notice_renders_on_every_channel_with_a_subject_a_link_and_no_template_syntax(
    notice: Notice,
) -> None:
    names = {person: f"Person {person}" for person in {notice.recipient_id, *notice.mentions}}
    contact = _contact(notice.recipient_id)
    for channel, adapter in ADAPTERS.items():
        payload = adapter.compose(RENDERER, notice, contact, names)
        rendered = str(payload)
        assert "{{" not in rendered, channel
        assert "{%" not in rendered, channel
        assert "https://mentoring.example.com/" in rendered, channel
        assert "a colleague" not in rendered, f"{channel}: a mentioned person has no name"
    email_payload = ADAPTERS[Channel.EMAIL].compose(RENDERER, notice, contact, names)
    assert email_payload["subject"]
    assert "\n" not in email_payload["subject"]
    assert email_payload["text"].startswith("Hi Ada Lovelace,")
    assert len(email_payload["text"]) < 2500, "kind and short"


def test_the_daily_digest_lists_each_update_with_its_link() -> None:
    digest = Notice(
        recipient_id="E1",
        template="daily_digest",
        priority=Priority.NORMAL,
        data={"items": [{"subject": "You earned a badge", "link": "https://m.example.com/b"}], "count": 1},
        link="/",
    )
    payload = ADAPTERS[Channel.EMAIL].compose(RENDERER, digest, _contact("E1"), {})
    assert payload["subject"] == "Your mentorship digest: 1 update"
    assert "- You earned a badge: https://m.example.com/b" in payload["text"]


def _proposal_for(mentee_name: str) -> tuple[Notice, dict[str, str]]:
    notice = next(n for n in notices_for(_event(NOTIFIED[0])) if n.role == "mentor")
    return notice, dict.fromkeys(notice.mentions, mentee_name)


def test_a_name_with_markup_stays_text_in_html_email() -> None:
    notice, names = _proposal_for('<script>alert("x")</script><a href="https://evil">win</a>')
    html = ADAPTERS[Channel.EMAIL].compose(RENDERER, notice, _contact(notice.recipient_id), names)["html"]
    assert "<script>" not in html
    assert '<a href="https://evil">' not in html
    assert "&lt;script&gt;" in html


def test_a_name_cannot_mention_everyone_or_add_a_link_in_slack() -> None:
    notice, names = _proposal_for("<!channel> <https://evil.example|click>")
    payload = ADAPTERS[Channel.SLACK].compose(RENDERER, notice, _contact(notice.recipient_id), names)
    text = payload["blocks"][1]["text"]["text"]
    assert "<!channel>" not in text
    assert "<https://evil" not in text
    assert "&lt;!channel&gt;" in text


def test_a_name_cannot_add_markdown_or_links_to_a_teams_card() -> None:
    notice, names = _proposal_for("[click](https://evil.example) **now**")
    card = ADAPTERS[Channel.TEAMS].compose(RENDERER, notice, _contact(notice.recipient_id), names)
    assert "[click](https://evil.example)" not in card["text"]
    assert r"\[click\]\(https://evil\.example\) \*\*now\*\*" in card["text"]


def test_the_generic_webhook_gets_plain_text_and_the_facts() -> None:
    notice, names = _proposal_for("Grace <Hopper>")
    body = ADAPTERS[Channel.WEBHOOK].compose(RENDERER, notice, _contact(notice.recipient_id), names)
    assert "Grace <Hopper>" in body["text"]
    assert body["template"] == "match_proposed"
    assert body["data"]["mentee_id"] in notice.mentions


def test_an_email_has_text_and_html_alternatives_a_stable_message_id_and_the_invite_attached() -> None:
    notice = next(n for n in notices_for(_event(NOTIFIED[NOTIFIED.index(_scheduled())])) if n.invite)
    adapter = ADAPTERS[Channel.EMAIL]
    assert isinstance(adapter, EmailAdapter)
    payload = adapter.compose(RENDERER, notice, _contact(notice.recipient_id), {})
    raw = adapter.message("n-1", "ada@example.com", payload)
    parsed = email.message_from_bytes(raw, policy=default)
    assert isinstance(parsed, EmailMessage)
    assert parsed["Message-ID"] == "<n-1@mentorship.local>"
    kinds = [part.get_content_type() for part in parsed.walk()]
    assert {"text/plain", "text/html", "text/calendar"} <= set(kinds)
    invite = next(p for p in parsed.walk() if p.get_content_type() == "text/calendar")
    assert invite.get_filename() == "invite.ics"
    assert "BEGIN:VCALENDAR" in invite.get_content()


def _scheduled() -> type[Envelope]:
    return next(cls for cls in NOTIFIED if cls.message_type() == "scheduling.session_scheduled")


@pytest.mark.parametrize(("lead", "words"), [(60, "1 hour"), (1440, "24 hours"), (30, "30 minutes")])
def test_a_reminder_says_how_soon_in_words(lead: int, words: str) -> None:
    cls = next(c for c in NOTIFIED if c.message_type() == "scheduling.reminder_due")
    data = example(cls)
    data["payload"]["lead_minutes"] = lead
    notice = notices_for(cls.model_validate(data))[0]
    payload = ADAPTERS[Channel.EMAIL].compose(RENDERER, notice, _contact(notice.recipient_id), {})
    assert payload["subject"] == f"Reminder: your session starts in {words}"
