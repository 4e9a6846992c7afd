"""Matched sessions on the real stack: the first session inside everyone's working day, an
invite calendars update in place, reminders that survive restarts and fire once, outcomes,
and nudges for matches that went quiet."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest

from contracts.matching import CircleFormed, CircleFormedData, MatchEnded, MatchEndedData
from services.runtime.service import running
from services.scheduling.app import SchedulingSettings, definition
from tests.support.infrastructure import Infrastructure
from tests.support.services import settings_for
from tests.support.sessions import Scheduling, of_type, person

WEEKDAYS_9_TO_5 = [
    {"weekday": day, "start": "09:00", "end": "17:00"}
    for day in ("monday", "tuesday", "wednesday", "thursday", "friday")
]


def _settings(infrastructure: Infrastructure, namespace: str, **overrides: Any) -> SchedulingSettings:
    base = settings_for(SchedulingSettings, infrastructure, namespace)
    return base.model_copy(update={"sweep_seconds": 0.3, **overrides})


@pytest.fixture
async def scheduling(infrastructure: Infrastructure, namespace: str) -> AsyncIterator[Scheduling]:
    settings = _settings(infrastructure, namespace)
    async with running(definition, settings):
        yield Scheduling(infrastructure, settings)


def _local(iso_utc: str, zone: str) -> datetime:
    return datetime.fromisoformat(iso_utc).astimezone(ZoneInfo(zone))


async def test_a_pair_in_los_angeles_and_kolkata_meets_inside_both_working_days(
    scheduling: Scheduling,
) -> None:
    await scheduling.people(person("LA", "America/Los_Angeles"), person("IN", "Asia/Kolkata"))
    await scheduling.confirmed("m-far", "LA", "IN")
    session = of_type(await scheduling.events(1), "session_scheduled")[0]["payload"]

    for zone in ("America/Los_Angeles", "Asia/Kolkata"):
        start, end = _local(session["starts_at"], zone), _local(session["ends_at"], zone)
        assert start.weekday() < 5, (zone, start)
        assert time(8) <= start.time(), (zone, start)
        assert end.time() <= time(20), (zone, end)
    assert datetime.fromisoformat(session["starts_at"]) >= datetime.now(UTC) + timedelta(hours=23)
    assert {t["person_id"] for t in session["local_times"]} == {"LA", "IN"}
    assert (session["cadence"], session["host_ids"], session["participant_ids"]) == ("weekly", ["LA"], ["IN"])


async def test_a_pair_with_no_shared_time_is_told_so_instead_of_nothing(scheduling: Scheduling) -> None:
    early = [{"weekday": "monday", "start": "08:00", "end": "09:00"}]
    await scheduling.people(
        person("EARLY", "Europe/Berlin", availability=early),
        person("LATE", "America/Chicago", availability=early),
    )
    await scheduling.confirmed("m-none", "EARLY", "LATE")
    refusal = (await scheduling.events(1))[0]

    assert refusal["type"] == "scheduling.no_slot_found"
    assert sorted(refusal["payload"]["person_ids"]) == ["EARLY", "LATE"]
    assert refusal["payload"]["horizon_days"] == 14


async def test_a_reschedule_keeps_the_invite_uid_and_raises_its_sequence_and_a_cancel_withdraws_it(
    scheduling: Scheduling,
) -> None:
    await scheduling.people(person("M1", "Europe/Berlin"), person("E1", "Europe/London"))
    await scheduling.confirmed("m-move", "M1", "E1")
    first = (await scheduling.events(1))[0]["payload"]
    new_start = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    payload = {"session_id": first["session_id"], "requested_by": "E1", "new_start": new_start.isoformat()}
    await scheduling.command("scheduling.reschedule_session", payload, first["session_id"], "move-1")
    moved = await scheduling.event_of("session_rescheduled", first["session_id"])
    cancel = {"session_id": first["session_id"], "cancelled_by": "M1", "reason": "sick"}
    await scheduling.command("scheduling.cancel_session", cancel, first["session_id"], "cancel-1")
    cancelled = await scheduling.event_of("session_cancelled", first["session_id"])

    invites = [
        icalendar.Calendar.from_ical(e["invite"]["ics"])
        for e in (first, moved["payload"], cancelled["payload"])
    ]
    events = [next(iter(c.walk("VEVENT"))) for c in invites]
    assert moved["type"] == "scheduling.session_rescheduled"
    assert len({str(e["UID"]) for e in events}) == 1
    assert [e.decoded("SEQUENCE") for e in events] == [0, 1, 2]
    assert events[1].decoded("DTSTART") == new_start
    assert (str(invites[2]["METHOD"]), str(events[2]["STATUS"])) == ("CANCEL", "CANCELLED")
    assert moved["payload"]["previous_start"] == first["starts_at"]


async def test_moving_a_session_into_the_past_is_refused_with_the_reason(scheduling: Scheduling) -> None:
    await scheduling.people(person("M2", "UTC"), person("E2", "UTC"))
    await scheduling.confirmed("m-past", "M2", "E2")
    first = (await scheduling.events(1))[0]["payload"]
    payload = {"session_id": first["session_id"], "requested_by": "E2", "new_start": "2020-01-01T10:00:00Z"}
    await scheduling.command("scheduling.reschedule_session", payload, first["session_id"], "move-past")
    dead = await scheduling.dead_letters(1)

    assert "only move to a time in the future" in dead[0].headers["dlq.reason"]


async def test_a_circle_meets_when_most_can_and_says_who_cannot(scheduling: Scheduling) -> None:
    members = [person(f"C{n}", "Europe/Berlin", availability=WEEKDAYS_9_TO_5) for n in range(3)]
    night = [{"weekday": "saturday", "start": "22:00", "end": "23:00"}]
    await scheduling.people(*members, person("C-NIGHT", "Europe/Berlin", availability=night))
    circle = CircleFormedData(
        circle_id="circle-1", programme_id="circles", topic="rust", member_ids=["C0", "C1", "C2", "C-NIGHT"]
    )
    await scheduling.matching_event(CircleFormed.create(circle, source="matching"))
    session = (await scheduling.events(1))[0]["payload"]

    assert (session["kind"], session["match_id"]) == ("circle", "circle-1")
    assert session["unavailable_ids"] == ["C-NIGHT"]
    assert session["cadence"] == "fortnightly"


async def test_an_ended_match_cancels_its_upcoming_session(scheduling: Scheduling) -> None:
    await scheduling.people(person("M3", "UTC"), person("E3", "UTC"))
    await scheduling.confirmed("m-end", "M3", "E3")
    first = (await scheduling.events(1))[0]["payload"]
    ended = MatchEndedData(
        match_id="m-end",
        kind="one_to_one",
        programme_id="onboarding",
        mentor_id="M3",
        mentee_id="E3",
        reason="mentee_left",
    )
    await scheduling.matching_event(MatchEnded.create(ended, source="matching"))
    cancelled = await scheduling.event_of("session_cancelled", first["session_id"])

    assert (cancelled["type"], cancelled["payload"]["session_id"]) == (
        "scheduling.session_cancelled",
        first["session_id"],
    )
    assert cancelled["payload"]["cancelled_by"] is None


async def test_an_outcome_completes_the_session_with_its_ratings_and_only_participants_may_record_one(
    scheduling: Scheduling,
) -> None:
    await scheduling.people(person("M4", "UTC"), person("E4", "UTC"))
    await scheduling.confirmed("m-done", "M4", "E4")
    first = (await scheduling.events(1))[0]["payload"]
    soon = datetime.now(UTC) + timedelta(seconds=2)
    move = {"session_id": first["session_id"], "requested_by": "M4", "new_start": soon.isoformat()}
    await scheduling.command("scheduling.reschedule_session", move, first["session_id"], "move-soon")
    await scheduling.event_of("session_rescheduled", first["session_id"])
    await asyncio.sleep(max(0.0, (soon - datetime.now(UTC)).total_seconds()) + 0.5)
    outcome = {"session_id": first["session_id"], "recorded_by": "E4", "attended": True, "rating": 2}
    await scheduling.command(
        "scheduling.record_session_outcome", {**outcome, "comment": "not a fit"}, first["session_id"], "o-1"
    )
    stranger = {"session_id": first["session_id"], "recorded_by": "NOBODY", "attended": True}
    await scheduling.command("scheduling.record_session_outcome", stranger, first["session_id"], "o-2")
    completed = (await scheduling.event_of("session_completed", first["session_id"]))["payload"]
    dead = await scheduling.dead_letters(1)

    assert completed["attended_ids"] == ["E4"]
    assert [(r["person_id"], r["rating"]) for r in completed["ratings"]] == [("E4", 2)]
    assert "only the session's participants" in dead[0].headers["dlq.reason"]


async def test_a_match_without_a_session_for_weeks_is_nudged_once(scheduling: Scheduling) -> None:
    await scheduling.people(person("M5", "UTC"), person("E5", "UTC"))
    # The confirmation happened three weeks ago; onboarding nudges after two quiet weeks.
    await scheduling.confirmed("m-quiet", "M5", "E5", occurred_at=datetime.now(UTC) - timedelta(weeks=3))
    events = await scheduling.events(2)
    await asyncio.sleep(1.0)  # several more sweeps

    nudges = of_type(await scheduling.all_events(), "match_inactive")
    assert len(nudges) == 1
    assert (nudges[0]["payload"]["match_id"], nudges[0]["payload"]["weeks_without_session"]) == ("m-quiet", 3)
    assert {e["type"] for e in events} == {"scheduling.session_scheduled", "scheduling.match_inactive"}


async def test_a_reminder_survives_a_restart_and_fires_once_with_two_instances_running(
    infrastructure: Infrastructure, namespace: str
) -> None:
    settings = _settings(infrastructure, namespace, reminder_leads_minutes=[60])
    scheduling = Scheduling(infrastructure, settings)
    async with running(definition, settings):
        await scheduling.people(person("M6", "UTC"), person("E6", "UTC"))
        await scheduling.confirmed("m-remind", "M6", "E6")
        first = (await scheduling.events(1))[0]["payload"]
        # One hour and a few seconds from now: the one-hour reminder is due in a few seconds.
        start = datetime.now(UTC) + timedelta(hours=1, seconds=4)
        move = {"session_id": first["session_id"], "requested_by": "M6", "new_start": start.isoformat()}
        await scheduling.command("scheduling.reschedule_session", move, first["session_id"], "move-r")
        await scheduling.events(2)
    # The first instance is gone before the reminder is due; two others take over.
    async with AsyncExitStack() as replicas:
        for _ in range(2):
            await replicas.enter_async_context(running(definition, settings))
        reminders = of_type(await scheduling.events(4), "reminder_due")
        await asyncio.sleep(2.0)  # time for any second firing to show
        everything = await scheduling.all_events()

    assert sorted(r["payload"]["person_id"] for r in reminders) == ["E6", "M6"]
    assert all(r["payload"]["lead_minutes"] == 60 for r in reminders)
    assert len(of_type(everything, "reminder_due")) == 2
