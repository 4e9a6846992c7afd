"""Reminders before each session, with ids that survive redelivery and change with a reschedule;
and matches that have gone quiet for too many weeks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.scheduling.cadence import due_reminders, is_inactive, reminder_id, reminder_times

START = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
DAY, HOUR = timedelta(days=1), timedelta(hours=1)


def test_a_session_gets_a_reminder_a_day_and_an_hour_before() -> None:
    reminders = reminder_times("s-1", START, now=START - 3 * DAY)

    assert [(r.due_at, r.lead_minutes) for r in reminders] == [(START - DAY, 1440), (START - HOUR, 60)]
    assert {r.session_id for r in reminders} == {"s-1"}


def test_planning_again_gives_the_same_ids_so_nothing_is_sent_twice() -> None:
    first = reminder_times("s-1", START, now=START - 3 * DAY)
    again = reminder_times("s-1", START.astimezone(ZoneInfo("Asia/Tokyo")), now=START - 2 * DAY)

    assert [r.reminder_id for r in again] == [r.reminder_id for r in first]


def test_a_reschedule_gives_new_ids_and_the_old_ones_can_still_be_found() -> None:
    old = reminder_times("s-1", START, now=START - 3 * DAY)
    new = reminder_times("s-1", START + DAY, now=START - 3 * DAY)

    assert not {r.reminder_id for r in old} & {r.reminder_id for r in new}
    assert reminder_id("s-1", START, HOUR) in {r.reminder_id for r in old}


def test_a_reminder_whose_time_has_passed_is_not_planned() -> None:
    reminders = reminder_times("s-1", START, now=START - 2 * HOUR)

    assert [r.lead_minutes for r in reminders] == [60]


def test_reminders_are_due_from_their_time_until_the_session_starts() -> None:
    reminders = reminder_times("s-1", START, now=START - 3 * DAY)

    assert due_reminders(reminders, now=START - 2 * DAY) == []
    assert [r.lead_minutes for r in due_reminders(reminders, now=START - DAY)] == [1440]
    assert [r.lead_minutes for r in due_reminders(reminders, now=START - HOUR)] == [1440, 60]
    assert due_reminders(reminders, now=START) == []


def test_offsets_must_be_whole_positive_minutes() -> None:
    with pytest.raises(ValueError, match="whole number of minutes"):
        reminder_times("s-1", START, now=START - DAY, offsets=(timedelta(seconds=90),))


CONFIRMED = datetime(2026, 9, 1, tzinfo=UTC)
WEEK = timedelta(weeks=1)


def test_a_match_without_any_session_is_inactive_after_the_configured_weeks() -> None:
    assert is_inactive(None, CONFIRMED, CONFIRMED + 4 * WEEK - HOUR, weeks=4) is None
    assert is_inactive(None, CONFIRMED, CONFIRMED + 4 * WEEK, weeks=4) == 4


def test_the_quiet_time_counts_from_the_last_completed_session() -> None:
    last = CONFIRMED + 3 * WEEK

    assert is_inactive(last, CONFIRMED, CONFIRMED + 5 * WEEK, weeks=4) is None
    assert is_inactive(last, CONFIRMED, last + 6 * WEEK + DAY, weeks=4) == 6


@given(
    st.integers(min_value=0, max_value=400 * 24),
    st.integers(min_value=0, max_value=400 * 24),
    st.integers(min_value=1, max_value=12),
)
def test_an_inactive_match_has_at_least_the_configured_quiet_weeks(
    since_hours: int, now_hours: int, weeks: int
) -> None:
    last = CONFIRMED + since_hours * HOUR
    now = CONFIRMED + now_hours * HOUR

    quiet = is_inactive(last, CONFIRMED, now, weeks=weeks)

    if quiet is None:
        assert now - last < weeks * WEEK
    else:
        assert quiet >= weeks
        assert quiet * WEEK <= now - last < (quiet + 1) * WEEK
