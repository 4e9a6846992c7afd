"""Finding meeting slots across time zones: real instants per calendar day, so daylight-saving
changes, weekends that fall on different UTC days, and half-hour zones all come out right."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.common import AvailabilityWindow, Weekday
from contracts.scheduling import Cadence
from services.scheduling.slots import (
    WEEKDAYS,
    Attendee,
    WorkingHours,
    best_group_slot,
    earliest_common_slot,
    local_times,
    month_week,
    recurrence,
)

WIDE_DAY = WorkingHours(start=time(8), end=time(20))
QUARTER = timedelta(minutes=15)


def window(day: Weekday, start: str, end: str) -> AvailabilityWindow:
    return AvailabilityWindow(weekday=day, start=time.fromisoformat(start), end=time.fromisoformat(end))


def person(person_id: str, zone: str, *windows: AvailabilityWindow) -> Attendee:
    return Attendee(person_id=person_id, time_zone=zone, availability=tuple(windows))


def at(moment: datetime, zone: str) -> datetime:
    return moment.astimezone(ZoneInfo(zone))


# ------------------------------------------------------------------ examples


def test_a_pair_in_los_angeles_and_kolkata_gets_a_slot_inside_both_working_days() -> None:
    la, kolkata = person("la", "America/Los_Angeles"), person("in", "Asia/Kolkata")
    # Sunday evening in Los Angeles is already Monday morning in Kolkata: not a working day for both.
    slot = earliest_common_slot(
        [la, kolkata],
        after=datetime(2026, 3, 2, tzinfo=UTC),
        horizon_days=7,
        duration_minutes=60,
        working_hours=WIDE_DAY,
    )

    assert slot == datetime(2026, 3, 3, 2, 30, tzinfo=UTC)
    assert at(slot, "America/Los_Angeles").isoformat() == "2026-03-02T18:30:00-08:00"
    assert at(slot, "Asia/Kolkata").isoformat() == "2026-03-03T08:00:00+05:30"


def test_twelve_and_a_half_hours_apart_nothing_fits_inside_the_default_nine_to_six() -> None:
    la, kolkata = person("la", "America/Los_Angeles"), person("in", "Asia/Kolkata")

    slot = earliest_common_slot(
        [la, kolkata], after=datetime(2026, 3, 2, tzinfo=UTC), horizon_days=14, duration_minutes=30
    )

    assert slot is None


def test_a_slot_that_only_exists_while_america_has_changed_its_clocks_and_europe_has_not_is_found() -> None:
    # Berlin 14:00 is New York 08:00, except from 8 to 29 March 2026, when it is 09:00.
    berlin = person("de", "Europe/Berlin", window(Weekday.MONDAY, "14:00", "15:00"))
    new_york = person("us", "America/New_York")

    slot = earliest_common_slot(
        [berlin, new_york], after=datetime(2026, 2, 23, tzinfo=UTC), horizon_days=42, duration_minutes=60
    )

    assert slot == datetime(2026, 3, 9, 13, 0, tzinfo=UTC)
    assert at(slot, "America/New_York").hour == 9


def test_the_slot_starts_at_or_after_the_given_instant_on_a_quarter_hour() -> None:
    london = person("uk", "Europe/London")

    slot = earliest_common_slot(
        [london], after=datetime(2026, 6, 3, 10, 7, tzinfo=UTC), horizon_days=1, duration_minutes=30
    )

    assert slot == datetime(2026, 6, 3, 10, 15, tzinfo=UTC)


def test_someone_without_stated_availability_is_available_in_their_working_hours() -> None:
    tokyo = person("jp", "Asia/Tokyo")

    slot = earliest_common_slot(
        [tokyo], after=datetime(2026, 6, 6, tzinfo=UTC), horizon_days=7, duration_minutes=60
    )

    # Saturday 6 June: the first working morning in Tokyo is Monday the 8th.
    assert slot is not None
    assert at(slot, "Asia/Tokyo").isoformat() == "2026-06-08T09:00:00+09:00"


def test_stated_availability_outside_working_hours_is_not_offered() -> None:
    early_bird = person("uk", "Europe/London", window(Weekday.TUESDAY, "06:00", "09:30"))

    slot = earliest_common_slot(
        [early_bird], after=datetime(2026, 6, 1, tzinfo=UTC), horizon_days=7, duration_minutes=30
    )

    assert slot is not None
    assert at(slot, "Europe/London").isoformat() == "2026-06-02T09:00:00+01:00"


def test_a_longer_session_than_any_shared_window_finds_no_slot() -> None:
    a = person("a", "Europe/Berlin", window(Weekday.MONDAY, "10:00", "11:00"))
    b = person("b", "Europe/Paris", window(Weekday.MONDAY, "10:30", "12:00"))

    assert (
        earliest_common_slot(
            [a, b], after=datetime(2026, 6, 1, tzinfo=UTC), horizon_days=14, duration_minutes=45
        )
        is None
    )
    assert earliest_common_slot(
        [a, b], after=datetime(2026, 6, 1, tzinfo=UTC), horizon_days=14, duration_minutes=30
    ) == datetime(2026, 6, 1, 8, 30, tzinfo=UTC)


def test_a_slot_must_end_within_the_horizon() -> None:
    tuesday_morning = person("a", "UTC", window(Weekday.TUESDAY, "09:00", "10:00"))
    monday = datetime(2026, 6, 1, 9, 30, tzinfo=UTC)

    assert earliest_common_slot([tuesday_morning], after=monday, horizon_days=1, duration_minutes=60) is None
    assert earliest_common_slot(
        [tuesday_morning], after=monday + timedelta(minutes=30), horizon_days=1, duration_minutes=60
    ) == datetime(2026, 6, 2, 9, tzinfo=UTC)


def test_a_window_in_the_hour_skipped_in_spring_is_read_with_the_offset_before_the_change() -> None:
    all_day = WorkingHours(start=time(0), end=time(23, 45), weekdays=frozenset(WEEKDAYS))
    # 02:00-02:30 does not exist in New York on 8 March 2026; like RFC 5545, it becomes 03:00-03:30.
    night_owl = person(
        "us",
        "America/New_York",
        window(Weekday.SUNDAY, "02:00", "02:30"),
        window(Weekday.SUNDAY, "03:00", "04:00"),
    )
    utc_partner = person("uk", "UTC", window(Weekday.SUNDAY, "06:00", "09:00"))

    slot = earliest_common_slot(
        [night_owl, utc_partner],
        after=datetime(2026, 3, 8, tzinfo=UTC),
        horizon_days=1,
        duration_minutes=60,
        working_hours=all_day,
    )

    assert slot == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)
    assert at(slot, "America/New_York").isoformat() == "2026-03-08T03:00:00-04:00"


def test_a_naive_start_is_refused_because_its_zone_is_unknown() -> None:
    with pytest.raises(ValueError, match="aware"):
        earliest_common_slot(
            [person("a", "UTC")], after=datetime(2026, 6, 1), horizon_days=1, duration_minutes=30
        )


def test_a_circle_meets_when_everyone_can() -> None:
    members = [person("a", "Europe/Berlin"), person("b", "Europe/London"), person("c", "Africa/Lagos")]
    after = datetime(2026, 6, 1, tzinfo=UTC)

    slot = best_group_slot(members, after=after, horizon_days=7, duration_minutes=60)

    assert slot is not None
    assert slot.unavailable_ids == ()
    assert slot.available_ids == ("a", "b", "c")
    assert slot.starts_at == earliest_common_slot(members, after=after, horizon_days=7, duration_minutes=60)
    assert slot.ends_at - slot.starts_at == timedelta(hours=1)


def test_a_board_member_on_the_other_side_of_the_world_is_named_as_unable_to_make_it() -> None:
    members = [
        person("berlin", "Europe/Berlin"),
        person("auckland", "Pacific/Auckland"),
        person("london", "Europe/London"),
        person("new_york", "America/New_York"),
    ]

    slot = best_group_slot(
        members, after=datetime(2026, 6, 1, tzinfo=UTC), horizon_days=7, duration_minutes=60
    )

    # Berlin, London and New York share 13:00-16:00 UTC; Auckland is asleep then.
    assert slot is not None
    assert slot.available_ids == ("berlin", "london", "new_york")
    assert slot.unavailable_ids == ("auckland",)
    assert at(slot.starts_at, "America/New_York").isoformat() == "2026-06-01T09:00:00-04:00"


def test_no_group_slot_when_no_two_members_share_a_time() -> None:
    members = [person("a", "Europe/Berlin"), person("b", "Pacific/Auckland")]

    assert (
        best_group_slot(members, after=datetime(2026, 6, 1, tzinfo=UTC), horizon_days=7, duration_minutes=60)
        is None
    )


def test_a_weekly_session_keeps_its_berlin_time_when_the_clocks_go_back_in_october() -> None:
    first = datetime(2026, 10, 20, 8, 0, tzinfo=UTC)  # Tuesday 10:00 CEST

    starts = recurrence(first, "Europe/Berlin", Cadence.WEEKLY, 3)

    assert starts == [
        datetime(2026, 10, 20, 8, tzinfo=UTC),
        datetime(2026, 10, 27, 9, tzinfo=UTC),
        datetime(2026, 11, 3, 9, tzinfo=UTC),
    ]
    assert {at(s, "Europe/Berlin").strftime("%a %H:%M") for s in starts} == {"Tue 10:00"}


def test_a_fortnightly_session_keeps_its_new_york_time_across_the_november_change() -> None:
    first = datetime(2026, 10, 27, 13, 0, tzinfo=UTC)  # Tuesday 09:00 EDT

    starts = recurrence(first, "America/New_York", Cadence.FORTNIGHTLY, 2)

    assert [at(s, "America/New_York").isoformat() for s in starts] == [
        "2026-10-27T09:00:00-04:00",
        "2026-11-10T09:00:00-05:00",
    ]


def test_a_monthly_session_keeps_the_weekday_and_its_place_in_the_month() -> None:
    first = datetime(2026, 10, 13, 8, 0, tzinfo=UTC)  # the 2nd Tuesday of October, 10:00 in Berlin

    starts = recurrence(first, "Europe/Berlin", Cadence.MONTHLY, 4)

    assert [at(s, "Europe/Berlin").isoformat() for s in starts] == [
        "2026-10-13T10:00:00+02:00",
        "2026-11-10T10:00:00+01:00",
        "2026-12-08T10:00:00+01:00",
        "2027-01-12T10:00:00+01:00",
    ]


def test_a_monthly_session_on_a_fifth_weekday_moves_to_the_last_one() -> None:
    first = datetime(2026, 9, 29, 14, 0, tzinfo=UTC)  # the 5th Tuesday of September

    starts = recurrence(first, "UTC", Cadence.MONTHLY, 3)

    assert [s.date() for s in starts] == [date(2026, 9, 29), date(2026, 10, 27), date(2026, 11, 24)]


def test_local_times_carry_each_persons_offset() -> None:
    people = [
        person("in", "Asia/Kolkata"),
        person("np", "Asia/Kathmandu"),
        person("la", "America/Los_Angeles"),
    ]

    times = local_times(datetime(2026, 12, 1, 3, 30, tzinfo=UTC), people)

    assert [(t.person_id, t.local_start) for t in times] == [
        ("in", "2026-12-01T09:00:00+05:30"),
        ("np", "2026-12-01T09:15:00+05:45"),
        ("la", "2026-11-30T19:30:00-08:00"),
    ]


# ------------------------------------------------------------------ invariants

ZONES = (
    "UTC",
    "America/Los_Angeles",
    "America/New_York",
    "America/Sao_Paulo",
    "Europe/London",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Pacific/Auckland",
    "Pacific/Chatham",
)
# Windows stay within 06:00-22:00, where no zone above changes its clocks, so comparing wall-clock
# times is an exact, independent check of the real-instant arithmetic.
quarters = st.integers(min_value=6 * 4, max_value=22 * 4)


def quarter_time(index: int) -> time:
    return time(index // 4, index % 4 * 15)


@st.composite
def windows(draw: st.DrawFn) -> AvailabilityWindow:
    start = draw(st.integers(min_value=6 * 4, max_value=21 * 4))
    end = draw(st.integers(min_value=start + 1, max_value=22 * 4))
    return AvailabilityWindow(
        weekday=draw(st.sampled_from(WEEKDAYS)), start=quarter_time(start), end=quarter_time(end)
    )


@st.composite
def attendees(draw: st.DrawFn) -> Attendee:
    return Attendee(
        person_id=f"p{draw(st.integers(0, 10_000))}",
        time_zone=draw(st.sampled_from(ZONES)),
        availability=tuple(draw(st.lists(windows(), max_size=8))),
    )


@st.composite
def working_hours(draw: st.DrawFn) -> WorkingHours:
    start = draw(st.integers(min_value=6 * 4, max_value=12 * 4))
    end = draw(st.integers(min_value=14 * 4, max_value=22 * 4))
    days = draw(st.just(frozenset(WEEKDAYS[:5])) | st.frozensets(st.sampled_from(WEEKDAYS), min_size=1))
    return WorkingHours(start=quarter_time(start), end=quarter_time(end), weekdays=days)


instants = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 1, 1)).map(
    lambda d: d.replace(second=0, microsecond=0, tzinfo=UTC)
)
durations = st.sampled_from([15, 30, 45, 60, 90, 120])
steps = st.sampled_from([15, 30, 60])


def free_quarter(who: Attendee, hours: WorkingHours, start: datetime) -> bool:
    """Whether the quarter hour from ``start`` lies in the person's availability and working hours,
    judged by wall-clock time in their own zone."""
    zone = ZoneInfo(who.time_zone)
    lo, hi = start.astimezone(zone), (start + QUARTER).astimezone(zone)
    day = WEEKDAYS[lo.weekday()]
    if hi.date() != lo.date() or day not in hours.weekdays:
        return False
    if not (hours.start <= lo.time() and hi.time() <= hours.end):
        return False
    stated = who.availability or (AvailabilityWindow(weekday=day, start=hours.start, end=hours.end),)
    return any(w.weekday is day and w.start <= lo.time() and hi.time() <= w.end for w in stated)


def fits(who: Attendee, hours: WorkingHours, start: datetime, minutes: int) -> bool:
    return all(free_quarter(who, hours, start + k * QUARTER) for k in range(minutes // 15))


class BruteForce:
    """Tries every aligned start in the horizon, judging each quarter hour in local wall-clock time."""

    def __init__(self, people: Sequence[Attendee], hours: WorkingHours, after: datetime, days: int) -> None:
        self.origin = datetime.fromtimestamp(-(-int(after.timestamp()) // 900) * 900, UTC)
        self.after, self.end = after, after + timedelta(days=days)
        count = int((self.end - self.origin) / QUARTER)
        self.free = [
            [free_quarter(p, hours, self.origin + k * QUARTER) for k in range(count)] for p in people
        ]

    def starts(self, minutes: int, step: int) -> list[datetime]:
        seconds = step * 60
        moment = datetime.fromtimestamp(-(-int(self.after.timestamp()) // seconds) * seconds, UTC)
        found = []
        while moment + timedelta(minutes=minutes) <= self.end:
            found.append(moment)
            moment += timedelta(seconds=seconds)
        return found

    def who_fits(self, start: datetime, minutes: int) -> frozenset[int]:
        first = int((start - self.origin) / QUARTER)
        return frozenset(i for i, free in enumerate(self.free) if all(free[first : first + minutes // 15]))

    def earliest(self, minutes: int, step: int) -> datetime | None:
        everyone = frozenset(range(len(self.free)))
        return next((s for s in self.starts(minutes, step) if self.who_fits(s, minutes) == everyone), None)

    def best_group(self, minutes: int, step: int) -> tuple[datetime, frozenset[int]] | None:
        best: tuple[datetime, frozenset[int]] | None = None
        for start in self.starts(minutes, step):
            who = self.who_fits(start, minutes)
            if len(who) >= 2 and (best is None or len(who) > len(best[1])):
                best = (start, who)
        return best


invariant = settings(max_examples=60, deadline=None)


@invariant
@given(st.lists(attendees(), min_size=1, max_size=3), working_hours(), instants, durations, steps)
def test_every_slot_found_lies_inside_everyones_availability_and_working_hours_in_their_own_zone(
    people: list[Attendee], hours: WorkingHours, after: datetime, minutes: int, step: int
) -> None:
    slot = earliest_common_slot(
        people, after=after, horizon_days=14, duration_minutes=minutes, step_minutes=step, working_hours=hours
    )

    if slot is not None:
        assert slot >= after
        assert slot + timedelta(minutes=minutes) <= after + timedelta(days=14)
        assert int(slot.timestamp()) % (step * 60) == 0
        assert all(fits(p, hours, slot, minutes) for p in people)


@invariant
@given(st.lists(attendees(), min_size=1, max_size=3), working_hours(), instants, durations, steps)
def test_the_slot_found_is_the_earliest_a_brute_force_search_finds(
    people: list[Attendee], hours: WorkingHours, after: datetime, minutes: int, step: int
) -> None:
    expected = BruteForce(people, hours, after, days=7).earliest(minutes, step)

    slot = earliest_common_slot(
        people, after=after, horizon_days=7, duration_minutes=minutes, step_minutes=step, working_hours=hours
    )

    assert slot == expected


@invariant
@given(st.lists(attendees(), min_size=2, max_size=5), working_hours(), instants, durations, steps)
def test_the_group_slot_is_the_earliest_of_those_suiting_the_most_members(
    people: list[Attendee], hours: WorkingHours, after: datetime, minutes: int, step: int
) -> None:
    people = [Attendee(f"m{i}", p.time_zone, p.availability) for i, p in enumerate(people)]
    expected = BruteForce(people, hours, after, days=7).best_group(minutes, step)

    slot = best_group_slot(
        people, after=after, horizon_days=7, duration_minutes=minutes, step_minutes=step, working_hours=hours
    )

    if expected is None:
        assert slot is None
    else:
        assert slot is not None
        assert slot.starts_at == expected[0]
        assert slot.available_ids == tuple(people[i].person_id for i in sorted(expected[1]))
        assert set(slot.available_ids) | set(slot.unavailable_ids) == {p.person_id for p in people}


@invariant
@given(
    st.sampled_from(ZONES),
    st.dates(min_value=date(2026, 1, 1), max_value=date(2027, 12, 31)),
    quarters,
    st.sampled_from(list(Cadence)),
    st.integers(min_value=1, max_value=26),
)
def test_recurrence_keeps_the_organisers_local_wall_clock_time(
    zone: str, first_day: date, quarter: int, cadence: Cadence, count: int
) -> None:
    first = datetime.combine(first_day, quarter_time(quarter), tzinfo=ZoneInfo(zone))

    starts = recurrence(first.astimezone(UTC), zone, cadence, count)

    local = [at(s, zone) for s in starts]
    assert len(starts) == count
    assert all(s.tzinfo is UTC for s in starts)
    assert {t.time() for t in local} == {first.time()}
    assert {t.weekday() for t in local} == {first.weekday()}
    assert starts == sorted(set(starts))
    if cadence is Cadence.MONTHLY:
        assert len({(t.year, t.month) for t in local}) == count
        if month_week(first_day) == -1:
            assert all((t + timedelta(weeks=1)).month != t.month for t in local)
        else:
            assert {month_week(t.date()) for t in local} == {month_week(first_day)}
    else:
        gap = 7 if cadence is Cadence.WEEKLY else 14
        assert all((b.date() - a.date()).days == gap for a, b in pairwise(local))
