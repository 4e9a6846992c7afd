"""Every kind of notice, from the example of each event people hear about, arrives by email
(Mailpit) and by webhook (a real HTTP receiver) with its own subject."""

from __future__ import annotations

import uuid
from collections import defaultdict

from contracts.catalogue import MATCHING_EVENTS, RECOGNITION_EVENTS, SCHEDULING_EVENTS
from contracts.envelope import Envelope
from contracts.examples import example
from services.notification.notices import notices_for
from tests.support.infrastructure import Infrastructure
from tests.support.notification import notification_service


def _examples() -> list[Envelope]:
    events = []
    for spec in (MATCHING_EVENTS, SCHEDULING_EVENTS, RECOGNITION_EVENTS):
        for cls in spec.messages:
            data = example(cls)
            data["event_id"] = str(uuid.uuid4())
            events.append(cls.model_validate(data))
    return [event for event in events if notices_for(event)]


async def test_every_template_arrives_by_email_and_webhook_with_a_subject_of_its_own(
    infrastructure: Infrastructure, namespace: str
) -> None:
    events = _examples()
    expected: dict[str, set[str]] = defaultdict(set)
    for event in events:
        for notice in notices_for(event):
            expected[notice.recipient_id].add(notice.template)
    async with notification_service(infrastructure, namespace) as notification:
        await notification.profiles(
            *(notification.person(p, channels=("email", "webhook")) for p in expected)
        )
        for event in events:
            await notification.publish(event)
        deliveries = sum(len(notices_for(event)) for event in events) * 2
        await notification.wait_for_deliveries(deliveries, state="sent")

        templates_seen = set()
        for person_id, templates in expected.items():
            hooks = await notification.chat(person_id, "webhook", 1)
            mails = await notification.mailpit.inbox(notification.address(person_id))
            assert {body["template"] for body in hooks} == templates
            notices_received = sum(1 for e in events for n in notices_for(e) if n.recipient_id == person_id)
            assert len(mails) == len(hooks) == notices_received
            assert all(mail.subject and mail.html.startswith("<!DOCTYPE html>") for mail in mails)
            templates_seen |= templates
    all_templates = {n.template for e in events for n in notices_for(e)}
    assert templates_seen == all_templates
    assert len(all_templates) >= 19
