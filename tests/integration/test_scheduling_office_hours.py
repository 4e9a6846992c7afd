"""Office hours on the real stack: a host publishes weekly slots, people book seats or are told
why not, cancellations free seats, and redelivered commands change nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from contracts.envelope import deterministic_id
from services.runtime.publishing import MessagePublisher
from services.scheduling.office_hours import COLLECTION, OfficeHours
from services.scheduling.people import People
from services.scheduling.settings import SchedulingSettings
from tests.support.infrastructure import Infrastructure
from tests.support.scheduling import (
    Scheduling,
    book,
    cancel_booking,
    of_type,
    office_hours_soon,
    publish_office_hours,
    scheduling_service,
)


@pytest.fixture
async def scheduling(infrastructure: Infrastructure, namespace: str) -> AsyncIterator[Scheduling]:
    async with scheduling_service(infrastructure, namespace) as service:
        await service.people("HOST", "ADA", "BEN", "CY")
        yield service


async def _published(scheduling: Scheduling, office_hours_id: str, **changes: object) -> list[datetime]:
    """Publish a series and return its slot starts."""
    await scheduling.send(publish_office_hours(office_hours_id, "HOST", **changes))
    published = of_type(await scheduling.events(1, office_hours_id), "office_hours_published")[0]
    return [datetime.fromisoformat(s) for s in published["payload"]["slot_starts"]]


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def test_publishing_office_hours_announces_weekly_slots_at_the_hosts_local_time(
    scheduling: Scheduling,
) -> None:
    slots = await _published(scheduling, "oh-weekly", weeks=3)

    assert len(slots) == 3
    assert all(s > datetime.now(UTC) for s in slots)
    local = [s.astimezone(ZoneInfo("Europe/Berlin")) for s in slots]
    assert {(t.weekday(), t.hour, t.minute) for t in local} == {(3, 16, 0)}


async def test_a_full_slot_refuses_a_booking_and_a_cancellation_frees_the_seat(
    scheduling: Scheduling,
) -> None:
    first = (await _published(scheduling, "oh-full", seats=1))[0]
    await scheduling.send(
        book("oh-full", "b-ada", "ADA", first),
        book("oh-full", "b-ben", "BEN", first),
        cancel_booking("oh-full", "b-ada", "ADA"),
        book("oh-full", "b-ben-2", "BEN", first),
    )
    events = (await scheduling.events(5, "oh-full"))[1:]

    assert [e["type"].removeprefix("scheduling.") for e in events] == [
        "office_hours_booked",
        "booking_refused",
        "office_hours_booking_cancelled",
        "office_hours_booked",
    ]
    booked, refused, cancelled, rebooked = (e["payload"] for e in events)
    assert (booked["person_id"], booked["seats_left"]) == ("ADA", 0)
    assert (refused["booking_id"], refused["reason"]) == ("b-ben", "full")
    assert "full" in refused["message"]
    assert (cancelled["booking_id"], cancelled["person_id"]) == ("b-ada", "ADA")
    assert (rebooked["booking_id"], rebooked["seats_left"]) == ("b-ben-2", 0)
    doc = await scheduling.document(COLLECTION, "oh-full")
    assert [b["booking_id"] for b in doc["bookings"]] == ["b-ben-2"]


async def test_booking_a_slot_one_already_holds_is_refused_with_a_clear_message(
    scheduling: Scheduling,
) -> None:
    first = (await _published(scheduling, "oh-double", seats=3))[0]
    await scheduling.send(book("oh-double", "b-1", "ADA", first), book("oh-double", "b-2", "ADA", first))
    refused = of_type(await scheduling.events(3, "oh-double"), "booking_refused")[0]["payload"]

    assert (refused["booking_id"], refused["person_id"], refused["reason"]) == (
        "b-2",
        "ADA",
        "already_booked",
    )
    assert refused["message"] == "You already have a booking in that slot."


async def test_booking_a_slot_that_has_already_started_is_refused_with_a_clear_message(
    scheduling: Scheduling,
) -> None:
    # Another series first, so the command consumer is known to be live and the soon one is
    # published well before its first slot.
    await _published(scheduling, "oh-warm-up")
    await scheduling.send(office_hours_soon("oh-soon", "HOST", in_seconds=3))
    published = of_type(await scheduling.events(1, "oh-soon"), "office_hours_published")[0]["payload"]
    first = _at(published["slot_starts"][0])
    assert first - datetime.now(UTC) < timedelta(seconds=3), "the first slot should be the one starting soon"
    await asyncio.sleep(max((first - datetime.now(UTC)).total_seconds(), 0) + 0.5)
    await scheduling.send(book("oh-soon", "b-late", "BEN", first))
    refused = of_type(await scheduling.events(2, "oh-soon"), "booking_refused")[0]["payload"]

    assert refused["reason"] == "in_the_past"
    assert refused["message"] == "That office-hour slot has already started; pick a later one."


async def test_a_time_that_is_not_a_published_slot_is_refused(scheduling: Scheduling) -> None:
    first = (await _published(scheduling, "oh-odd"))[0]
    await scheduling.send(book("oh-odd", "b-odd", "ADA", first + timedelta(minutes=10)))
    refused = of_type(await scheduling.events(2, "oh-odd"), "booking_refused")[0]["payload"]

    assert refused["reason"] == "no_such_slot"


async def test_a_redelivered_booking_command_books_once_and_sends_one_event(scheduling: Scheduling) -> None:
    first = (await _published(scheduling, "oh-again", seats=2))[0]
    command = book("oh-again", "b-once", "ADA", first)
    resent = book("oh-again", "b-once", "ADA", first)  # the same booking under a new message id
    await scheduling.send(command, command, resent)
    await scheduling.handled_every_command()

    events = await scheduling.all_events("oh-again")
    assert [e["type"] for e in events] == [
        "scheduling.office_hours_published",
        "scheduling.office_hours_booked",
    ]
    doc = await scheduling.document(COLLECTION, "oh-again")
    assert [(b["booking_id"], b["person_id"]) for b in doc["bookings"]] == [("b-once", "ADA")]
    assert command.event_id in doc["_processed"]
    assert doc["_outbox"] == []


async def test_a_cancelled_booking_id_cannot_be_booked_again(scheduling: Scheduling) -> None:
    first = (await _published(scheduling, "oh-reuse", seats=2))[0]
    await scheduling.send(
        book("oh-reuse", "b-r", "ADA", first),
        cancel_booking("oh-reuse", "b-r", "ADA"),
        book("oh-reuse", "b-r", "ADA", first),
    )
    refused = of_type(await scheduling.events(4, "oh-reuse"), "booking_refused")[0]["payload"]

    assert (refused["booking_id"], refused["reason"]) == ("b-r", "already_booked")
    assert "make a new booking" in refused["message"]


async def test_only_the_person_who_booked_can_cancel(scheduling: Scheduling) -> None:
    first = (await _published(scheduling, "oh-mine"))[0]
    await scheduling.send(book("oh-mine", "b-m", "ADA", first), cancel_booking("oh-mine", "b-m", "BEN"))
    refused = of_type(await scheduling.events(3, "oh-mine"), "booking_refused")[0]["payload"]

    assert (refused["person_id"], refused["reason"]) == ("BEN", "not_a_participant")
    doc = await scheduling.document(COLLECTION, "oh-mine")
    assert [b["booking_id"] for b in doc["bookings"]] == ["b-m"]


async def test_the_booking_invite_is_a_calendar_request_from_the_host_and_the_cancellation_withdraws_it(
    scheduling: Scheduling,
) -> None:
    first = (await _published(scheduling, "oh-ics", duration_minutes=45))[0]
    await scheduling.send(book("oh-ics", "b-ics", "CY", first), cancel_booking("oh-ics", "b-ics", "CY"))
    events = await scheduling.events(3, "oh-ics")
    booked = of_type(events, "office_hours_booked")[0]["payload"]["invite"]
    cancelled = of_type(events, "office_hours_booking_cancelled")[0]["payload"]["invite"]

    request = Calendar.from_ical(booked["ics"])
    event = request.walk("VEVENT")[0]
    assert str(request["METHOD"]) == "REQUEST"
    assert (str(event["UID"]), event["SEQUENCE"]) == ("b-ics@mentorship.local", 0)
    assert (booked["uid"], booked["sequence"]) == ("b-ics@mentorship.local", 0)
    assert event.decoded("DTSTART") == first
    assert event.decoded("DTEND") == first + timedelta(minutes=45)
    assert str(event["ORGANIZER"]) == "mailto:host@example.com"
    assert str(event["ATTENDEE"]) == "mailto:cy@example.com"
    assert "https://meet.example.com/kafka" in str(event["DESCRIPTION"])

    withdrawal = Calendar.from_ical(cancelled["ics"])
    gone = withdrawal.walk("VEVENT")[0]
    assert str(withdrawal["METHOD"]) == "CANCEL"
    assert (str(gone["UID"]), gone["SEQUENCE"], str(gone["STATUS"])) == (
        "b-ics@mentorship.local",
        1,
        "CANCELLED",
    )


async def test_a_booking_for_office_hours_never_published_is_dead_lettered_with_the_reason(
    scheduling: Scheduling,
) -> None:
    await scheduling.send(book("oh-nowhere", "b-x", "ADA", datetime.now(UTC) + timedelta(days=1)))
    dead = await scheduling.dead_letters(1)

    assert "there are no office hours oh-nowhere" in dead[0].headers["dlq.reason"]
    assert dead[0].headers["dlq.permanent"] == "true"


async def test_publishing_other_details_under_a_published_id_is_dead_lettered_and_a_resend_is_not(
    scheduling: Scheduling,
) -> None:
    command = publish_office_hours("oh-same", "HOST")
    resent = publish_office_hours("oh-same", "HOST")
    changed = publish_office_hours("oh-same", "HOST", seats=9)
    await scheduling.send(command, resent, changed)
    dead = await scheduling.dead_letters(1)
    await scheduling.handled_every_command()

    assert len(dead) == 1
    assert "already published with other details" in dead[0].headers["dlq.reason"]
    assert len(await scheduling.all_events("oh-same")) == 1


async def test_the_read_api_lists_upcoming_slots_with_free_seats_only(scheduling: Scheduling) -> None:
    slots = await _published(scheduling, "oh-list", seats=1, weeks=2)
    await scheduling.send(book("oh-list", "b-l", "ADA", slots[0]))
    await scheduling.events(2, "oh-list")
    listed = [s for s in await scheduling.read("/office-hours") if s["office_hours_id"] == "oh-list"]

    assert [(_at(s["slot_start"]), s["seats_left"]) for s in listed] == [(slots[1], 1)]
    assert (listed[0]["host_id"], listed[0]["title"], listed[0]["topics"]) == (
        "HOST",
        "Ask me about Kafka",
        ["kafka"],
    )


class _CrashBeforePublishing(MessagePublisher):
    """A process that dies after its write and before the broker has the events."""

    def __init__(self) -> None:
        pass

    async def publish_raw(self, logical_topic: str, key: str, value: bytes, headers: dict[str, str]) -> None:
        raise ConnectionError("the process died here")


async def test_an_event_held_back_by_a_crash_goes_out_when_the_command_is_redelivered(
    scheduling: Scheduling,
) -> None:
    first = (await _published(scheduling, "oh-crash"))[0]
    command = book("oh-crash", "b-crash", "ADA", first)
    crashing = OfficeHours(
        scheduling.db, _CrashBeforePublishing(), People(scheduling.db), SchedulingSettings()
    )
    with pytest.raises(ConnectionError):
        await crashing.book(command)
    assert len((await scheduling.document(COLLECTION, "oh-crash"))["_outbox"]) == 1

    await scheduling.send(command)
    booked = of_type(await scheduling.events(2, "oh-crash"), "office_hours_booked")

    assert [e["event_id"] for e in booked] == [deterministic_id("b-crash", "scheduling.office_hours_booked")]
    await scheduling.handled_every_command()
    assert (await scheduling.document(COLLECTION, "oh-crash"))["_outbox"] == []
