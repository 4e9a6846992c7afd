"""Notification on the real stack: mail read back from Mailpit, chat messages from a real HTTP
receiver; each person hears once per channel, failures are retried or reported, and
preferences (opt-out, quiet hours, digest) are honoured."""

from __future__ import annotations

from collections.abc import AsyncIterator, MutableMapping
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import structlog
from fastapi import FastAPI
from pydantic import SecretStr

from contracts.matching import MatchProposed
from contracts.scheduling import ReminderDue, SessionScheduled
from deploy.local.chat_receiver import running_receiver
from services.notification.read_api import build_http
from services.notification.settings import SmtpSettings
from tests.support.infrastructure import Infrastructure
from tests.support.notices import (
    badge,
    event_like,
    kudos,
    proposal,
    session_cancelled,
    session_rescheduled,
    session_scheduled,
)
from tests.support.notification import TOKEN, Notification, notification_service
from tests.support.waiting import eventually


@pytest.fixture
async def notification(infrastructure: Infrastructure, namespace: str) -> AsyncIterator[Notification]:
    async with notification_service(infrastructure, namespace) as service:
        yield service


async def test_a_proposal_reaches_both_people_by_email_slack_teams_and_webhook_with_the_reasons(
    notification: Notification,
) -> None:
    await notification.profiles(notification.person("MENTOR"), notification.person("MENTEE"))
    event = proposal("MENTOR", "MENTEE")
    await notification.publish(event)

    mails = await notification.mailpit.wait_for(notification.address("MENTEE"), 1)
    assert mails[0].subject == "We suggest Mentor Example as your mentor"
    assert "Covers 3 of 4 goals: kafka, python, sql" in mails[0].text
    assert "Covers 3 of 4 goals" in mails[0].html
    slack = (await notification.chat("MENTEE", "slack", 1))[0]
    assert slack["blocks"][0]["text"]["text"] == "We suggest Mentor Example as your mentor"
    teams = (await notification.chat("MENTEE", "teams", 1))[0]
    assert teams["@type"] == "MessageCard"
    assert "Mentor Example" in teams["text"]
    webhook = (await notification.chat("MENTEE", "webhook", 1))[0]
    assert webhook["template"] == "match_proposed"
    assert webhook["data"]["match_id"] == event.payload.match_id
    mentor_mail = await notification.mailpit.wait_for(notification.address("MENTOR"), 1)
    assert mentor_mail[0].subject == "Would you mentor Mentee Example?"

    outcomes = await notification.outcomes(8)
    delivered = {(o["payload"]["recipient_id"], o["payload"]["channel"]) for o in outcomes}
    assert delivered == {(p, c) for p in ("MENTOR", "MENTEE") for c in ("email", "slack", "teams", "webhook")}
    assert all(o["type"] == "notification.delivered" for o in outcomes)
    assert {o["correlation_id"] for o in outcomes} == {event.correlation_id}


async def test_session_invites_keep_their_uid_and_grow_their_sequence_through_reschedule_and_cancel(
    notification: Notification,
) -> None:
    await notification.profiles(
        notification.person("HOST", channels=("email",)), notification.person("GUEST", channels=("email",))
    )
    start = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    moved = start + timedelta(days=1)
    await notification.publish(session_scheduled("s-inv", "HOST", "GUEST", start))
    await notification.publish(session_rescheduled("s-inv", "HOST", "GUEST", start, moved))
    await notification.publish(session_cancelled("s-inv", "HOST", "GUEST", moved))

    mails = await notification.mailpit.wait_for(notification.address("GUEST"), 3)
    invites = [await notification.mailpit.invite(mail) for mail in mails]
    events = [next(iter(cal.walk("VEVENT"))) for cal in invites]
    assert {str(e["UID"]) for e in events} == {"s-inv@mentorship.local"}
    assert sorted(e.decoded("SEQUENCE") for e in events) == [0, 1, 2]
    by_sequence = {e.decoded("SEQUENCE"): (cal, e) for cal, e in zip(invites, events, strict=True)}
    assert str(by_sequence[2][0]["METHOD"]) == "CANCEL"
    assert by_sequence[1][1].decoded("DTSTART") == moved
    berlin = moved.astimezone(ZoneInfo("Europe/Berlin"))
    assert any(f"{berlin:%H:%M} (Europe/Berlin)" in mail.subject for mail in mails)


async def test_a_redelivered_event_sends_nothing_twice(notification: Notification) -> None:
    await notification.profiles(notification.person("ANA"), notification.person("BO"))
    event = proposal("ANA", "BO")
    await notification.publish(event)
    await notification.outcomes(8)
    await notification.publish(event)
    await notification.publish(event)
    await notification.handled_everything_on(MatchProposed)

    assert len(await notification.mailpit.inbox(notification.address("BO"))) == 1
    for channel in ("slack", "teams", "webhook"):
        assert len(notification.receiver.on(notification.hook("BO", channel))) == 1
    assert len(await notification.deliveries(recipient_id="BO")) == 4
    assert len(await notification.all_outcomes()) == 8


async def test_a_receiver_answering_500_then_200_gets_exactly_one_message(notification: Notification) -> None:
    await notification.profiles(notification.person("CARA", channels=("slack",)), notification.person("DEV"))
    notification.receiver.respond(notification.hook("CARA", "slack"), 500, 200)
    await notification.publish(proposal("DEV", "CARA"))

    outcome = next(o for o in await notification.outcomes(5) if o["payload"]["recipient_id"] == "CARA")
    assert outcome["type"] == "notification.delivered"
    assert outcome["payload"]["attempts"] == 2
    assert notification.receiver.calls[notification.hook("CARA", "slack")] == 2
    assert len(notification.receiver.on(notification.hook("CARA", "slack"))) == 1


async def test_a_message_sent_again_after_a_failure_is_logged_in_the_chain_of_the_event_behind_it(
    notification: Notification,
) -> None:
    await notification.profiles(notification.person("MIA", channels=("slack",)), notification.person("NED"))
    notification.receiver.respond(notification.hook("MIA", "slack"), 500, 200)
    event = proposal("NED", "MIA")
    # The second attempt is made by the sweep, outside the handling of the event.
    with structlog.testing.capture_logs() as lines:
        await notification.publish(event)

        def retried() -> list[MutableMapping[str, Any]]:
            return [
                line for line in lines if line["event"] == "notification delivered" and line["attempts"] == 2
            ]

        await eventually(lambda: bool(retried()), what="the second attempt delivered and logged")

    assert [line.get("correlation_id") for line in retried()] == [event.correlation_id]


async def test_a_receiver_answering_400_gets_one_attempt_a_failure_and_a_dead_letter_while_email_arrives(
    notification: Notification,
) -> None:
    await notification.profiles(
        notification.person("EVE", channels=("email", "teams")), notification.person("FAY")
    )
    notification.receiver.respond(notification.hook("EVE", "teams"), 400)
    event = proposal("FAY", "EVE")
    await notification.publish(event)

    await notification.mailpit.wait_for(notification.address("EVE"), 1)
    outcomes = await notification.outcomes(6)
    failed = [o for o in outcomes if o["type"] == "notification.failed"]
    assert len(failed) == 1
    assert failed[0]["payload"] | {"error": "", "notification_id": ""} == failed[0]["payload"] | {
        "recipient_id": "EVE",
        "channel": "teams",
        "attempts": 1,
        "permanent": True,
        "error": "",
        "notification_id": "",
    }
    assert "HTTP 400" in failed[0]["payload"]["error"]
    assert notification.receiver.calls[notification.hook("EVE", "teams")] == 1
    dead = (await notification.dead_letters(MatchProposed, 1))[0]
    assert dead.headers["dlq.notification_id"] == failed[0]["payload"]["notification_id"]
    assert dead.headers["event_id"] == event.event_id


async def test_an_event_about_someone_whose_profile_has_not_arrived_waits_for_it(
    notification: Notification,
) -> None:
    await notification.profiles(notification.person("GIL"))
    await notification.publish(proposal("GIL", "HAL"))
    await notification.mailpit.wait_for(notification.address("GIL"), 1)
    assert await notification.mailpit.inbox(notification.address("HAL")) == []

    await notification.profiles(notification.person("HAL", channels=("email",)))
    mails = await notification.mailpit.wait_for(notification.address("HAL"), 1)
    assert mails[0].subject == "We suggest Gil Example as your mentor"


async def test_a_channel_left_out_of_the_preferences_gets_nothing(notification: Notification) -> None:
    await notification.profiles(notification.person("IDA", channels=("webhook",)), notification.person("JO"))
    await notification.publish(proposal("JO", "IDA"))
    await notification.chat("IDA", "webhook", 1)
    await notification.handled_everything_on(MatchProposed)

    assert await notification.mailpit.inbox(notification.address("IDA")) == []
    assert notification.receiver.on(notification.hook("IDA", "slack")) == []
    assert {d["channel"] for d in await notification.deliveries(recipient_id="IDA")} == {"webhook"}


async def test_quiet_hours_hold_chat_until_they_end_while_email_goes_at_once(
    notification: Notification,
) -> None:
    zone = ZoneInfo("Asia/Kolkata")
    now = datetime.now(zone)
    ends = (now + timedelta(seconds=4)).time().replace(microsecond=0)
    quiet = (now - timedelta(hours=1)).time().replace(microsecond=0), ends
    await notification.profiles(
        notification.person("KAI", channels=("email", "slack"), quiet_hours=quiet, time_zone="Asia/Kolkata"),
        notification.person("LEE"),
    )
    await notification.publish(proposal("LEE", "KAI"))

    await notification.mailpit.wait_for(notification.address("KAI"), 1)
    held = await notification.wait_for_deliveries(1, recipient_id="KAI", channel="slack")
    assert (held[0]["state"], held[0]["waiting_for"]) == ("due", "quiet_hours")
    await notification.chat("KAI", "slack", 1, timeout=20)
    arrived = datetime.fromtimestamp(
        notification.receiver.on(notification.hook("KAI", "slack"))[0].received_at, zone
    )
    assert arrived.time() >= ends


async def test_a_reminder_is_not_held_by_quiet_hours(notification: Notification) -> None:
    zone = ZoneInfo("Europe/Berlin")
    now = datetime.now(zone)
    quiet = (now - timedelta(hours=1)).time(), (now + timedelta(hours=1)).time()
    await notification.profiles(notification.person("MIA", channels=("slack",), quiet_hours=quiet))
    await notification.publish(event_like(ReminderDue, person_id="MIA", reminder_id="r-mia"))
    assert len(await notification.chat("MIA", "slack", 1)) == 1


async def test_low_priority_news_waits_for_the_daily_digest_and_arrives_as_one_message(
    infrastructure: Infrastructure, namespace: str
) -> None:
    # Far enough ahead for the service to start and queue both items first.
    soon = (datetime.now(ZoneInfo("Europe/Berlin")) + timedelta(seconds=30)).time().replace(microsecond=0)
    async with notification_service(infrastructure, namespace, digest_at=soon) as notification:
        await notification.profiles(
            notification.person("NIA", channels=("email",), digest=True), notification.person("OLA")
        )
        await notification.publish(badge("NIA"))
        await notification.publish(kudos("OLA", "NIA"))
        queued = await notification.wait_for_deliveries(2, recipient_id="NIA", state="queued_for_digest")
        assert len(queued) == 2
        assert await notification.mailpit.inbox(notification.address("NIA")) == []

        mails = await notification.mailpit.wait_for(notification.address("NIA"), 1, timeout=45)
        assert mails[0].subject == "Your mentorship digest: 2 updates"
        assert "You earned a badge: first session" in mails[0].text
        assert "Ola Example sent you kudos" in mails[0].text
        await notification.wait_for_deliveries(2, recipient_id="NIA", state="digested")
        assert len(await notification.mailpit.inbox(notification.address("NIA"))) == 1


async def test_the_delivery_log_shows_addresses_only_to_a_caller_with_the_token(
    notification: Notification,
) -> None:
    await notification.profiles(notification.person("PIA", channels=("email",)), notification.person("QUIN"))
    await notification.publish(proposal("QUIN", "PIA"))
    await notification.outcomes(5)
    transport = httpx.ASGITransport(app=_app(notification))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        anonymous = (await client.get("/deliveries", params={"recipient_id": "PIA"})).json()
        authorised = (
            await client.get(
                "/deliveries", params={"recipient_id": "PIA"}, headers={"Authorization": f"Bearer {TOKEN}"}
            )
        ).json()
        wrong = await client.get("/deliveries", headers={"Authorization": "Bearer nope"})
        summary = (await client.get("/deliveries/summary")).json()

    assert [(d["channel"], d["state"], d["address"]) for d in anonymous] == [("email", "sent", None)]
    assert authorised[0]["address"] == notification.address("PIA")
    assert authorised[0]["subject"] == "We suggest Quin Example as your mentor"
    assert wrong.status_code == 401
    assert summary["by_channel_and_state"]["email"]["sent"] == 2


def _app(notification: Notification) -> FastAPI:
    app = FastAPI()
    app.include_router(build_http(notification.runtime))
    return app


async def test_mail_goes_through_an_smtp_server_that_asks_for_a_login(
    infrastructure: Infrastructure, namespace: str
) -> None:
    smtp = SmtpSettings(
        host=infrastructure.smtp_host,
        port=infrastructure.smtp_port,
        username="mentorship",
        password=SecretStr("s3cret"),
    )
    async with notification_service(infrastructure, namespace, smtp=smtp) as notification:
        await notification.profiles(
            notification.person("RAY", channels=("email",)), notification.person("SUE")
        )
        await notification.publish(
            session_scheduled(
                "s-auth", "SUE", "RAY", datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
            )
        )
        mails = await notification.mailpit.wait_for(notification.address("RAY"), 1)
        assert mails[0].subject.startswith("Session booked:")
        await notification.handled_everything_on(SessionScheduled)


async def test_names_typed_by_people_cannot_inject_markup_into_chat(notification: Notification) -> None:
    await notification.profiles(
        notification.person("TIA", channels=("slack",)),
        notification.person("UMA", name="<!channel> <https://evil.example|win>"),
    )
    await notification.publish(proposal("UMA", "TIA"))
    body = (await notification.chat("TIA", "slack", 1))[0]
    text = body["blocks"][1]["text"]["text"]
    assert "<!channel>" not in text
    assert "&lt;!channel&gt;" in text

    async def logged() -> bool:
        return len(await notification.deliveries(recipient_id="TIA", state="sent")) == 1

    await eventually(logged, what="the slack delivery confirmed")


async def test_two_instances_sweeping_the_same_deferred_messages_send_each_once(
    infrastructure: Infrastructure, namespace: str
) -> None:
    async with (
        running_receiver() as receiver,
        notification_service(infrastructure, namespace, receiver=receiver) as first,
        notification_service(infrastructure, namespace, receiver=receiver),
    ):
        zone = ZoneInfo("Europe/Berlin")
        now = datetime.now(zone)
        ends = (now + timedelta(seconds=6)).time().replace(microsecond=0)
        quiet = (now - timedelta(hours=1)).time().replace(microsecond=0), ends
        people = [f"W{i}" for i in range(6)]
        await first.profiles(
            *(first.person(p, channels=("webhook",), quiet_hours=quiet) for p in people),
            first.person("HOST", channels=()),
        )
        for person_id in people:
            await first.publish(proposal("HOST", person_id))
        for person_id in people:
            await first.chat(person_id, "webhook", 1, timeout=40)
        await first.outcomes(len(people))

        for person_id in people:
            assert len(receiver.on(first.hook(person_id, "webhook"))) == 1
        assert await first.db["attempts"].count_documents({}) == len(people)
