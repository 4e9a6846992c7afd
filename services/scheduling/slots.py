"""Meeting times across time zones, computed in real instants so daylight-saving changes are exact.

Availability is wall-clock time in each person's own zone. Every calendar day of the horizon is
turned into UTC intervals with zoneinfo (never a fixed offset), after clipping to working hours;
the people's interval lists are then intersected, and a slot is the earliest aligned start that
fits. Interval lists are built once per person and date range and cached, so finding slots for
thousands of pairs costs list merges, not minute-by-minute stepping.
"""

from __future__ import annotations

import calendar
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import TypeVar
from zoneinfo import ZoneInfo

from contracts.common import AvailabilityWindow, Weekday
from contracts.scheduling import Cadence, LocalTime

WEEKDAYS: tuple[Weekday, ...] = tuple(Weekday)
"""Monday first, so ``WEEKDAYS[day.weekday()]`` names a date's weekday."""

Interval = tuple[int, int]
"""Seconds since the Unix epoch, [start, end)."""

LocalWindow = tuple[time, time]
"""Wall-clock [start, end) within one local day."""

WeeklyWindows = tuple[tuple[LocalWindow, ...], ...]
"""Seven entries, Monday first: the local windows of that weekday, sorted and disjoint."""

_Point = TypeVar("_Point", int, time)


@dataclass(frozen=True)
class WorkingHours:
    """The local window every slot must respect in each participant's own zone."""

    start: time = time(9)
    end: time = time(18)
    weekdays: frozenset[Weekday] = frozenset(WEEKDAYS[:5])

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError("working hours must end after they start, within one day")


DEFAULT_WORKING_HOURS = WorkingHours()


@dataclass(frozen=True)
class Attendee:
    """One person as scheduling sees them: weekly availability in their own IANA time zone.

    No availability means "any time in my working hours".
    """

    person_id: str
    time_zone: str
    availability: tuple[AvailabilityWindow, ...] = ()


@dataclass(frozen=True)
class GroupSlot:
    """A slot for a circle or board, and who can and cannot make it."""

    starts_at: datetime
    ends_at: datetime
    available_ids: tuple[str, ...]
    unavailable_ids: tuple[str, ...]


def utc(moment: datetime) -> datetime:
    """The same instant in UTC; a naive datetime is refused because its zone is unknown."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a time zone aware datetime is required")
    return moment.astimezone(UTC)


# ------------------------------------------------------------------ slots


def earliest_common_slot(
    people: Sequence[Attendee],
    *,
    after: datetime,
    horizon_days: int,
    duration_minutes: int,
    step_minutes: int = 15,
    working_hours: WorkingHours = DEFAULT_WORKING_HOURS,
) -> datetime | None:
    """The earliest start (UTC) at or after ``after`` when everyone is free for the whole duration.

    Starts fall on multiples of ``step_minutes`` past the UTC midnight; with the default of 15
    that is a round quarter hour in every time zone in use. The slot ends by the horizon's end
    (``after`` plus ``horizon_days`` days). None when no such slot exists.
    """
    if not people:
        raise ValueError("at least one person is needed to find a slot")
    search = _Search.of(after, horizon_days, duration_minutes, step_minutes)
    common: list[Interval] = []
    for index, person in enumerate(people):
        intervals = search.intervals(person, working_hours)
        common = intervals if index == 0 else _intersect(common, intervals)
        if not common:
            return None
    start = search.first_fit(common)
    return None if start is None else _instant(start)


def best_group_slot(
    people: Sequence[Attendee],
    *,
    after: datetime,
    horizon_days: int,
    duration_minutes: int,
    step_minutes: int = 15,
    working_hours: WorkingHours = DEFAULT_WORKING_HOURS,
) -> GroupSlot | None:
    """The earliest slot that suits every member, else the earliest suiting the most (at least 2).

    Same alignment and horizon as ``earliest_common_slot``. None when no two members share a slot.
    """
    if len(people) < 2:
        raise ValueError("a group slot needs at least two people")
    search = _Search.of(after, horizon_days, duration_minutes, step_minutes)
    lists = [search.intervals(person, working_hours) for person in people]
    starts = [[lo for lo, _ in intervals] for intervals in lists]
    best: tuple[int, int] | None = None
    # The set of people who fit only grows when a start reaches someone's interval start, so
    # the earliest best slot is always the aligned start of some interval: only those are tried.
    for start in search.candidates(lists):
        count = sum(_covers(s, i, start, search.duration) for s, i in zip(starts, lists, strict=True))
        if count >= 2 and (best is None or count > best[0]):
            best = (count, start)
            if count == len(people):
                break
    if best is None:
        return None
    start = best[1]
    fits = [_covers(s, i, start, search.duration) for s, i in zip(starts, lists, strict=True)]
    return GroupSlot(
        starts_at=_instant(start),
        ends_at=_instant(start + search.duration),
        available_ids=tuple(p.person_id for p, ok in zip(people, fits, strict=True) if ok),
        unavailable_ids=tuple(p.person_id for p, ok in zip(people, fits, strict=True) if not ok),
    )


@dataclass(frozen=True)
class _Search:
    """One search's bounds, in epoch seconds."""

    begin: int
    end: int
    duration: int
    step: int

    @classmethod
    def of(cls, after: datetime, horizon_days: int, duration_minutes: int, step_minutes: int) -> _Search:
        if horizon_days < 1 or duration_minutes < 1 or step_minutes < 1:
            raise ValueError("horizon, duration and step must be positive")
        begin = int(utc(after).timestamp())
        return cls(begin, begin + horizon_days * 86_400, duration_minutes * 60, step_minutes * 60)

    def intervals(self, person: Attendee, working_hours: WorkingHours) -> list[Interval]:
        """The person's free intervals inside this search, clipped to its bounds."""
        zone = ZoneInfo(person.time_zone)
        # Local dates are taken one day wider than the bounds' own dates: cheap, and no window
        # at the edges is missed whatever the zone's offset.
        first = datetime.fromtimestamp(self.begin, zone).date() - timedelta(days=1)
        last = datetime.fromtimestamp(self.end, zone).date() + timedelta(days=1)
        weekly = _weekly_windows(person.availability, working_hours)
        found = _utc_intervals(person.time_zone, weekly, first, (last - first).days + 1)
        inside = (interval for interval in found if interval[1] > self.begin and interval[0] < self.end)
        return [(max(lo, self.begin), min(hi, self.end)) for lo, hi in inside]

    def align(self, moment: int) -> int:
        return -(-moment // self.step) * self.step

    def first_fit(self, intervals: Sequence[Interval]) -> int | None:
        for lo, hi in intervals:
            start = self.align(lo)
            if start + self.duration <= hi:
                return start
        return None

    def candidates(self, lists: Sequence[Sequence[Interval]]) -> list[int]:
        return sorted({self.align(lo) for intervals in lists for lo, _ in intervals})


def _covers(starts: Sequence[int], intervals: Sequence[Interval], start: int, duration: int) -> bool:
    index = bisect_right(starts, start) - 1
    return index >= 0 and intervals[index][1] >= start + duration


def _intersect(a: Sequence[Interval], b: Sequence[Interval]) -> list[Interval]:
    """Both inputs sorted and disjoint; so is the result."""
    out: list[Interval] = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if lo < hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


@lru_cache(maxsize=16_384)
def _weekly_windows(
    availability: tuple[AvailabilityWindow, ...], working_hours: WorkingHours
) -> WeeklyWindows:
    """Availability clipped to working hours, per weekday; no availability means working hours."""
    stated = availability or tuple(
        AvailabilityWindow(weekday=day, start=working_hours.start, end=working_hours.end) for day in WEEKDAYS
    )
    week: list[tuple[LocalWindow, ...]] = []
    for day in WEEKDAYS:
        if day not in working_hours.weekdays:
            week.append(())
            continue
        clipped = [
            (max(w.start, working_hours.start), min(w.end, working_hours.end))
            for w in stated
            if w.weekday is day
        ]
        week.append(tuple(_merge(c for c in clipped if c[0] < c[1])))
    return tuple(week)


@lru_cache(maxsize=16_384)
def _utc_intervals(time_zone: str, weekly: WeeklyWindows, first: date, days: int) -> tuple[Interval, ...]:
    """The weekly windows on each local date from ``first``, as real instants.

    Each local date is resolved by zoneinfo on its own, so a window keeps its wall-clock hours
    on both sides of a daylight-saving change. Cached: a mentor with many new mentees, or a
    batch of matches found on the same day, costs one computation.
    """
    zone = ZoneInfo(time_zone)
    out: list[Interval] = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        for start, end in weekly[day.weekday()]:
            lo = int(datetime.combine(day, start, tzinfo=zone).timestamp())
            hi = int(datetime.combine(day, end, tzinfo=zone).timestamp())
            if lo < hi:
                out.append((lo, hi))
    # Only a window inside a skipped daylight-saving hour can overlap the next one; merging
    # keeps the list sorted and disjoint, as intersection and lookup assume.
    return tuple(_merge(out))


def _merge(intervals: Iterable[tuple[_Point, _Point]]) -> list[tuple[_Point, _Point]]:
    """Sorted, with overlapping or touching intervals joined."""
    merged: list[tuple[_Point, _Point]] = []
    for lo, hi in sorted(intervals):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def _instant(epoch_seconds: int) -> datetime:
    return datetime.fromtimestamp(epoch_seconds, UTC)


# ------------------------------------------------------------------ recurrence and local times


def recurrence(first_start: datetime, organiser_tz: str, cadence: Cadence, count: int) -> list[datetime]:
    """The first ``count`` session starts (UTC), at the organiser's local wall-clock time each time.

    Weekly and fortnightly add 7 or 14 local days. Monthly keeps the weekday and its ordinal in
    the month ("2nd Tuesday"), because people plan meetings by weekday, and a day of the month
    would wander across weekends; a start in the 5th week of its month becomes "last <weekday>",
    which every month has. A wall-clock time that a daylight-saving change skips or repeats is
    read as RFC 5545 reads it: with the offset in force before the change.
    """
    if count < 1:
        raise ValueError("count must be at least 1")
    first = utc(first_start)
    zone = ZoneInfo(organiser_tz)
    local = first.astimezone(zone)
    wall = local.time().replace(fold=0, tzinfo=None)
    dates = _local_dates(local.date(), cadence, count)
    return [first] + [datetime.combine(day, wall, tzinfo=zone).astimezone(UTC) for day in dates[1:]]


def month_week(day: date) -> int:
    """The ordinal of ``day``'s weekday in its month: 1 to 4, or -1 for a fifth (the last)."""
    ordinal = (day.day - 1) // 7 + 1
    return -1 if ordinal == 5 else ordinal


def _local_dates(first: date, cadence: Cadence, count: int) -> list[date]:
    if cadence is Cadence.WEEKLY:
        return [first + timedelta(weeks=k) for k in range(count)]
    if cadence is Cadence.FORTNIGHTLY:
        return [first + timedelta(weeks=2 * k) for k in range(count)]
    ordinal = month_week(first)
    dates: list[date] = []
    for k in range(count):
        year, month = divmod(first.month - 1 + k, 12)
        dates.append(_nth_weekday(first.year + year, month + 1, first.weekday(), ordinal))
    return dates


def _nth_weekday(year: int, month: int, weekday: int, ordinal: int) -> date:
    if ordinal == -1:
        last_day = calendar.monthrange(year, month)[1]
        last = date(year, month, last_day)
        return last - timedelta(days=(last.weekday() - weekday) % 7)
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (ordinal - 1))


def local_times(instant: datetime, attendees: Sequence[Attendee]) -> list[LocalTime]:
    """When ``instant`` is for each attendee, as ISO 8601 local date-time with its offset."""
    moment = utc(instant)
    return [
        LocalTime(
            person_id=person.person_id,
            time_zone=person.time_zone,
            local_start=moment.astimezone(ZoneInfo(person.time_zone)).isoformat(timespec="seconds"),
        )
        for person in attendees
    ]
