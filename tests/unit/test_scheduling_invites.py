"""Calendar invites, read back with the icalendar library as a calendar client would: one UID for
the life of a session, a SEQUENCE that grows with every change, and a cancellation that says so."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr
from hypothesis import given, settings
from hypothesis import strategies as st
from icalendar import Calendar, Event

from contracts.scheduling import Cadence
from services.scheduling.invites import Method, Organiser, Repeat, Status, invite, stable_uid
from services.scheduling.slots import recurrence

START = datetime(2026, 10, 20, 8, 0, tzinfo=UTC)
END = START + timedelta(hours=1)
STAMP = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)


def parsed(text: str) -> tuple[Calendar, Event]:
    calendar = Calendar.from_ical(text)
    (event,) = calendar.events
    return calendar, event


def session_invite(sequence: int = 0, start: datetime = START, **options: object) -> str:
    return invite(
        stable_uid("session-1"),
        sequence,
        start,
        start + timedelta(hours=1),
        "Mentoring: Ada and Grace",
        "Agenda: goals for the quarter.",
        organiser=Organiser(email="ada@example.com", name="Ada Lovelace"),
        attendees=["grace@example.com"],
        stamp=STAMP,
        **options,  # type: ignore[arg-type]
    )


def test_an_invite_is_a_request_with_utc_times_a_stamp_and_both_people() -> None:
    calendar, event = parsed(session_invite())

    assert calendar["METHOD"] == "REQUEST"
    assert event["UID"] == "session-1@mentorship.local"
    assert event["SEQUENCE"] == 0
    assert event["STATUS"] == "CONFIRMED"
    assert event.start == START
    assert event.end == END
    assert event.DTSTAMP == STAMP
    assert event["ORGANIZER"] == "mailto:ada@example.com"
    assert event["ORGANIZER"].params["CN"] == "Ada Lovelace"
    assert [str(a) for a in event.attendees] == ["mailto:grace@example.com"]
    assert "DTSTART:20261020T080000Z" in session_invite()
    assert "DTEND:20261020T090000Z" in session_invite()


def test_a_reschedule_keeps_the_uid_and_raises_the_sequence() -> None:
    _, first = parsed(session_invite(0))
    _, moved = parsed(session_invite(1, start=START + timedelta(days=2)))

    assert moved.uid == first.uid
    assert moved.sequence > first.sequence
    assert moved.start == START + timedelta(days=2)


def test_a_cancellation_says_cancel_and_cancelled_under_the_same_uid() -> None:
    calendar, event = parsed(session_invite(2, method=Method.CANCEL, status=Status.CANCELLED))

    assert calendar["METHOD"] == "CANCEL"
    assert event["STATUS"] == "CANCELLED"
    assert event["UID"] == "session-1@mentorship.local"
    assert event["SEQUENCE"] == 2


def test_cancel_without_cancelled_status_is_refused() -> None:
    with pytest.raises(ValueError, match="CANCEL"):
        session_invite(1, method=Method.CANCEL)


def test_the_same_inputs_give_the_same_text_so_a_redelivery_changes_nothing() -> None:
    assert session_invite(3) == session_invite(3)


def test_the_uid_domain_is_configurable() -> None:
    assert stable_uid("s-9") == "s-9@mentorship.local"
    assert stable_uid("s-9", domain="mentoring.example.org") == "s-9@mentoring.example.org"


def test_a_malformed_address_is_refused_without_repeating_it() -> None:
    with pytest.raises(ValueError, match="malformed") as refused:
        invite(
            "u@x", 0, START, END, "Talk", attendees=["eve@example.com\r\nATTENDEE:mailto:x@y.z"], stamp=STAMP
        )

    assert "eve" not in str(refused.value)


def test_line_breaks_in_a_title_or_name_cannot_add_properties() -> None:
    text = invite(
        "u@x",
        0,
        START,
        END,
        "Talk\r\nATTENDEE:mailto:eve@example.com",
        organiser=Organiser(email="ada@example.com", name='Ada "The\r\nBoss"'),
        stamp=STAMP,
    )

    _, event = parsed(text)
    assert "ATTENDEE" not in event
    assert event["SUMMARY"] == "Talk\nATTENDEE:mailto:eve@example.com"
    assert event["ORGANIZER"].params["CN"] == 'Ada "The\nBoss"'


def test_an_invite_must_end_after_it_starts() -> None:
    with pytest.raises(ValueError, match="end after"):
        invite("u@x", 0, START, START, "Talk", stamp=STAMP)


def test_a_weekly_series_is_written_in_the_organisers_zone_and_expands_to_the_same_local_times() -> None:
    text = session_invite(repeat=Repeat(Cadence.WEEKLY, 4, "Europe/Berlin"))
    calendar, event = parsed(text)

    assert "DTSTART;TZID=Europe/Berlin:20261020T100000" in text
    assert [tz.tz_name for tz in calendar.timezones] == ["Europe/Berlin"]
    assert expanded(event) == recurrence(START, "Europe/Berlin", Cadence.WEEKLY, 4)


@pytest.mark.parametrize(
    ("cadence", "rule"),
    [
        (Cadence.WEEKLY, "FREQ=WEEKLY;COUNT=6;INTERVAL=1"),
        (Cadence.FORTNIGHTLY, "FREQ=WEEKLY;COUNT=6;INTERVAL=2"),
        (Cadence.MONTHLY, "FREQ=MONTHLY;COUNT=6;BYDAY=3TU"),
    ],
)
def test_each_cadence_has_its_rule(cadence: Cadence, rule: str) -> None:
    # 20 October 2026 is the third Tuesday of the month.
    text = session_invite(repeat=Repeat(cadence, 6, "America/New_York"))

    assert f"RRULE:{rule}\r\n" in text


def expanded(event: Event) -> list[datetime]:
    """The occurrences a calendar client computes from DTSTART and RRULE (dateutil's reading)."""
    (recur,) = event.rrules
    rule = recur.to_ical().decode()
    return [moment.astimezone(UTC) for moment in rrulestr(rule, dtstart=event.start)]


# Control characters have no place in a summary; everything else, multi-byte included, must survive.
printable = st.characters(exclude_categories=("Cc", "Cs"))
zones = st.sampled_from(["Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "UTC"])


@settings(max_examples=40, deadline=None)
@given(
    zones,
    st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31)),
    st.integers(min_value=8, max_value=19),
    st.sampled_from(list(Cadence)),
    st.integers(min_value=1, max_value=12),
)
def test_a_calendar_expands_a_series_to_the_instants_the_service_schedules(
    zone: str, day: datetime, hour: int, cadence: Cadence, count: int
) -> None:
    first = day.replace(hour=hour, minute=0, second=0, microsecond=0, tzinfo=ZoneInfo(zone)).astimezone(UTC)

    _, event = parsed(
        invite("u@x", 0, first, first + timedelta(hours=1), "Series", repeat=Repeat(cadence, count, zone))
    )

    assert expanded(event) == recurrence(first, zone, cadence, count)


@settings(max_examples=60, deadline=None)
@given(
    st.text(printable, min_size=1, max_size=300),
    st.text(printable | st.just("\n"), max_size=2000),
    st.integers(min_value=0, max_value=10_000),
)
def test_any_text_round_trips_in_lines_of_at_most_75_octets_ending_in_crlf(
    summary: str, description: str, sequence: int
) -> None:
    text = invite("u@x", sequence, START, END, summary, description or None, stamp=STAMP)

    raw = text.encode("utf-8")
    assert raw.endswith(b"\r\n")
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert all(len(line) <= 75 for line in raw.split(b"\r\n"))
    _, event = parsed(text)
    assert event["SUMMARY"] == summary
    assert event.get("DESCRIPTION", "") == description
    assert event["SEQUENCE"] == sequence
