"""Quiet hours and digest times in the person's own zone, across midnight and DST."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from contracts.profile import Channel
from services.notification.contacts import Contact
from services.notification.notices import Notice, Priority
from services.notification.routing import route
from services.notification.timing import in_quiet_hours, next_digest_at, quiet_until

BERLIN = ZoneInfo("Europe/Berlin")
NIGHT = (time(22), time(7))


def test_quiet_hours_that_span_midnight_hold_late_in_the_evening_and_early_in_the_morning() -> None:
    assert in_quiet_hours(time(23, 30), *NIGHT)
    assert in_quiet_hours(time(6, 59), *NIGHT)
    assert not in_quiet_hours(time(7), *NIGHT)
    assert not in_quiet_hours(time(12), *NIGHT)


def test_a_message_at_23_00_berlin_waits_until_07_00_berlin_the_next_morning() -> None:
    now = datetime(2026, 12, 1, 22, 0, tzinfo=UTC)  # 23:00 in Berlin
    until = quiet_until(now, BERLIN, *NIGHT)
    assert until is not None
    assert until.astimezone(BERLIN).replace(tzinfo=None) == datetime(2026, 12, 2, 7, 0)


def test_quiet_hours_ending_on_the_morning_clocks_go_forward_still_end_at_07_00_local() -> None:
    now = datetime(2026, 3, 28, 23, 30, tzinfo=UTC)  # 00:30 on 29 March in Berlin, DST starts at 02:00
    until = quiet_until(now, BERLIN, *NIGHT)
    assert until is not None
    local = until.astimezone(BERLIN)
    assert (local.date().isoformat(), local.hour, local.utcoffset()) == ("2026-03-29", 7, timedelta(hours=2))


def test_outside_quiet_hours_nothing_waits() -> None:
    assert quiet_until(datetime(2026, 12, 1, 11, 0, tzinfo=UTC), BERLIN, *NIGHT) is None


@given(
    now=st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 1, 1), timezones=st.just(UTC)),
    start=st.times(),
    end=st.times(),
    zone=st.sampled_from(["Europe/Berlin", "America/Los_Angeles", "Asia/Kolkata", "Australia/Lord_Howe"]),
)
def test_a_deferred_message_goes_out_after_now_within_a_day_and_outside_quiet_hours(
    now: datetime, start: time, end: time, zone: str
) -> None:
    until = quiet_until(now, ZoneInfo(zone), start, end)
    if until is None:
        assert not in_quiet_hours(now.astimezone(ZoneInfo(zone)).time(), start, end)
        return
    assert now < until <= now + timedelta(hours=25)


@given(
    now=st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 1, 1), timezones=st.just(UTC)),
    at=st.times(),
)
def test_the_next_digest_is_after_now_and_within_a_day(now: datetime, at: time) -> None:
    digest = next_digest_at(now, BERLIN, at)
    assert now < digest <= now + timedelta(hours=25)


def _person(**changes: object) -> Contact:
    fields: dict[str, object] = {
        "person_id": "E1",
        "name": "Ada",
        "email": "ada@example.com",
        "time_zone": "Europe/Berlin",
        "active": True,
        "channels": (Channel.EMAIL, Channel.SLACK),
        "quiet_start": time(22),
        "quiet_end": time(7),
    }
    return Contact(**(fields | changes))  # type: ignore[arg-type]


def _notice(priority: Priority) -> Notice:
    return Notice(recipient_id="E1", template="match_confirmed", priority=priority, data={}, link="/")


LATE = datetime(2026, 12, 1, 22, 30, tzinfo=UTC)  # 23:30 in Berlin


def test_chat_waits_for_quiet_hours_to_end_but_email_does_not() -> None:
    assert route(_notice(Priority.NORMAL), _person(), Channel.SLACK, LATE).reason == "quiet_hours"
    assert route(_notice(Priority.NORMAL), _person(), Channel.EMAIL, LATE).at is None


def test_a_reminder_goes_out_even_in_quiet_hours() -> None:
    assert route(_notice(Priority.URGENT), _person(), Channel.SLACK, LATE).at is None


def test_without_quiet_hours_chat_goes_out_at_once() -> None:
    assert (
        route(_notice(Priority.NORMAL), _person(quiet_start=None, quiet_end=None), Channel.SLACK, LATE).at
        is None
    )
