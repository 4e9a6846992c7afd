"""Group sessions on the real stack: seats in order of registration, a waitlist that moves up
when someone cancels, an invite with every seat, and redelivered commands that change nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar

from services.scheduling.groups import COLLECTION
from tests.support.infrastructure import Infrastructure
from tests.support.scheduling import (
    Scheduling,
    announce,
    cancel_registration,
    of_type,
    register,
    scheduling_service,
)


@pytest.fixture
async def scheduling(infrastructure: Infrastructure, namespace: str) -> AsyncIterator[Scheduling]:
    async with scheduling_service(infrastructure, namespace) as service:
        await service.people("HOST", "ADA", "BEN", "CY", "DEE")
        yield service


def _kinds(events: list[dict[str, object]]) -> list[str]:
    return [str(e["type"]).removeprefix("scheduling.") for e in events]


async def test_announcing_a_session_opens_all_its_seats(scheduling: Scheduling) -> None:
    await scheduling.send(announce("gs-open", "HOST", capacity=12))
    announced = (await scheduling.events(1, "gs-open"))[0]

    assert announced["type"] == "scheduling.group_session_announced"
    assert (announced["payload"]["capacity"], announced["payload"]["seats_left"]) == (12, 12)


async def test_two_seats_seat_two_people_waitlist_the_third_and_a_cancellation_promotes_them(
    scheduling: Scheduling,
) -> None:
    third = register("gs-two", "CY")
    leaving = cancel_registration("gs-two", "ADA")
    await scheduling.send(
        announce("gs-two", "HOST", capacity=2), register("gs-two", "ADA"), register("gs-two", "BEN"), third
    )
    events = await scheduling.events(4, "gs-two")
    assert _kinds(events) == ["group_session_announced", "seat_reserved", "seat_reserved", "waitlisted"]
    seated = [(e["payload"]["person_id"], e["payload"]["seats_left"]) for e in events[1:3]]
    assert seated == [("ADA", 1), ("BEN", 0)]
    assert (events[3]["payload"]["person_id"], events[3]["payload"]["position"]) == ("CY", 1)

    await scheduling.send(leaving)
    promoted = (await scheduling.events(5, "gs-two"))[4]

    assert promoted["type"] == "scheduling.seat_reserved"
    assert promoted["payload"]["person_id"] == "CY"
    assert promoted["payload"]["promoted_from_waitlist"] is True
    assert promoted["payload"]["seats_left"] == 0
    # The cancellation freed the seat; the promotion continues CY's own registration.
    assert promoted["causation_id"] == leaving.event_id
    assert promoted["correlation_id"] == third.correlation_id
    doc = await scheduling.document(COLLECTION, "gs-two")
    assert (doc["seated"], doc["waitlist"]) == (["BEN", "CY"], [])


async def test_leaving_the_waitlist_moves_those_behind_up_and_frees_no_seat(scheduling: Scheduling) -> None:
    await scheduling.send(
        announce("gs-line", "HOST", capacity=1),
        register("gs-line", "ADA"),
        register("gs-line", "BEN"),
        register("gs-line", "CY"),
        cancel_registration("gs-line", "BEN"),
        register("gs-line", "DEE"),
    )
    events = await scheduling.events(5, "gs-line")

    waitlisted = [
        (e["payload"]["person_id"], e["payload"]["position"]) for e in of_type(events, "waitlisted")
    ]
    assert waitlisted == [("BEN", 1), ("CY", 2), ("DEE", 2)]
    assert len(of_type(events, "seat_reserved")) == 1
    doc = await scheduling.document(COLLECTION, "gs-line")
    assert (doc["seated"], doc["waitlist"]) == (["ADA"], ["CY", "DEE"])


async def test_a_seat_comes_with_a_calendar_invite_from_the_host_for_the_session(
    scheduling: Scheduling,
) -> None:
    starts_at = (datetime.now(UTC) + timedelta(days=3)).replace(minute=30, second=0, microsecond=0)
    await scheduling.send(
        announce("gs-ics", "HOST", starts_at=starts_at, duration_minutes=60), register("gs-ics", "DEE")
    )
    invite = (await scheduling.events(2, "gs-ics"))[1]["payload"]["invite"]

    calendar = Calendar.from_ical(invite["ics"])
    event = calendar.walk("VEVENT")[0]
    assert str(calendar["METHOD"]) == "REQUEST"
    assert (str(event["UID"]), event["SEQUENCE"]) == ("gs-ics@mentorship.local", 0)
    assert (invite["uid"], invite["sequence"]) == ("gs-ics@mentorship.local", 0)
    assert event.decoded("DTSTART") == starts_at
    assert event.decoded("DTEND") == starts_at + timedelta(minutes=60)
    assert str(event["SUMMARY"]) == "Property-based testing in practice"
    assert str(event["ORGANIZER"]) == "mailto:host@example.com"
    assert str(event["ATTENDEE"]) == "mailto:dee@example.com"


async def test_a_redelivered_registration_changes_nothing_and_sends_nothing_new(
    scheduling: Scheduling,
) -> None:
    command = register("gs-again", "ADA")
    await scheduling.send(announce("gs-again", "HOST"), command, command, register("gs-again", "ADA"))
    await scheduling.handled_every_command()

    events = await scheduling.all_events("gs-again")
    assert _kinds(events) == ["group_session_announced", "seat_reserved"]
    doc = await scheduling.document(COLLECTION, "gs-again")
    assert (doc["seated"], doc["waitlist"], doc["_outbox"]) == (["ADA"], [], [])


async def test_a_redelivered_cancellation_promotes_only_once(scheduling: Scheduling) -> None:
    leaving = cancel_registration("gs-once", "ADA")
    await scheduling.send(
        announce("gs-once", "HOST", capacity=1),
        register("gs-once", "ADA"),
        register("gs-once", "BEN"),
        register("gs-once", "CY"),
        leaving,
        leaving,
    )
    await scheduling.handled_every_command()

    events = await scheduling.all_events("gs-once")
    promotions = [e["payload"]["person_id"] for e in events if e["payload"].get("promoted_from_waitlist")]
    assert promotions == ["BEN"]
    doc = await scheduling.document(COLLECTION, "gs-once")
    assert (doc["seated"], doc["waitlist"]) == (["BEN"], ["CY"])


async def test_the_host_cannot_register_for_their_own_session_and_nothing_is_sent(
    scheduling: Scheduling,
) -> None:
    await scheduling.send(announce("gs-host", "HOST"), register("gs-host", "HOST"))
    await scheduling.handled_every_command()

    assert _kinds(await scheduling.all_events("gs-host")) == ["group_session_announced"]
    assert (await scheduling.document(COLLECTION, "gs-host"))["seated"] == []


async def test_registering_for_a_session_never_announced_is_dead_lettered_with_the_reason(
    scheduling: Scheduling,
) -> None:
    await scheduling.send(register("gs-nowhere", "ADA"))
    dead = await scheduling.dead_letters(1)

    assert "there is no group session gs-nowhere" in dead[0].headers["dlq.reason"]


async def test_a_session_announced_to_start_in_the_past_is_dead_lettered(scheduling: Scheduling) -> None:
    await scheduling.send(announce("gs-past", "HOST", starts_at=datetime.now(UTC) - timedelta(hours=1)))
    dead = await scheduling.dead_letters(1)

    assert "would start in the past" in dead[0].headers["dlq.reason"]


async def test_the_read_api_lists_upcoming_sessions_with_free_seats_and_waitlist_length(
    scheduling: Scheduling,
) -> None:
    await scheduling.send(
        announce("gs-list", "HOST", capacity=1), register("gs-list", "ADA"), register("gs-list", "BEN")
    )
    await scheduling.events(3, "gs-list")
    listed = [s for s in await scheduling.read("/group-sessions") if s["group_session_id"] == "gs-list"]

    assert [(s["capacity"], s["seats_left"], s["waitlist_length"]) for s in listed] == [(1, 0, 1)]
    assert (listed[0]["host_id"], listed[0]["format"]) == ("HOST", "workshop")
