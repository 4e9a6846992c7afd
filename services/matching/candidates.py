"""Matching's view of a person, built from a profile snapshot alone (no reads of profile data).

Everything the score needs is precomputed once per snapshot: UTC offset, weekly availability
as UTC minute intervals for a reference week, skills by weight, goals.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from contracts.common import LEVEL_RANK, SkillLevel, Weekday
from contracts.profile import MatchingPreferences, ProfileSnapshot, ProfileStatus

SKILL_WEIGHT: dict[SkillLevel, float] = {
    SkillLevel.LEARNING: 0.25,
    SkillLevel.WORKING: 0.5,
    SkillLevel.PROFICIENT: 0.8,
    SkillLevel.EXPERT: 1.0,
}
WEEKDAYS = list(Weekday)
MINUTES_PER_WEEK = 7 * 24 * 60

Interval = tuple[int, int]
"""Minutes since Monday 00:00 UTC of the reference week, [start, end)."""


@dataclass(frozen=True)
class Candidate:
    person_id: str
    active: bool
    external: bool
    level_rank: int | None
    team: str | None
    manager_id: str | None
    utc_offset_hours: float | None
    skills: Mapping[str, float]
    goals: frozenset[str]
    interests: frozenset[str]
    languages: frozenset[str]
    availability: tuple[Interval, ...]
    mentor_capacity: int
    mentee: bool
    preferences: MatchingPreferences
    programmes: frozenset[str]

    @property
    def mentor(self) -> bool:
        return self.active and self.mentor_capacity > 0


def reference_monday(today: date) -> date:
    """The Monday starting the week after ``today``: availability is compared in that week, so
    daylight-saving shifts are those people will actually live through."""
    return today + timedelta(days=7 - today.weekday())


def _utc_intervals(snapshot: ProfileSnapshot, monday: date) -> tuple[Interval, ...]:
    if not snapshot.time_zone or not snapshot.availability:
        return ()
    zone = ZoneInfo(snapshot.time_zone)
    week_start = datetime(monday.year, monday.month, monday.day, tzinfo=ZoneInfo("UTC"))
    intervals: list[Interval] = []
    for window in snapshot.availability:
        day = monday + timedelta(days=WEEKDAYS.index(window.weekday))
        start = datetime.combine(day, window.start, tzinfo=zone)
        end = datetime.combine(day, window.end, tzinfo=zone)
        first = int((start - week_start).total_seconds() // 60)
        last = int((end - week_start).total_seconds() // 60)
        # Windows that cross the week boundary in UTC wrap around to its other end.
        for offset in (-MINUTES_PER_WEEK, 0, MINUTES_PER_WEEK):
            lo, hi = max(first + offset, 0), min(last + offset, MINUTES_PER_WEEK)
            if lo < hi:
                intervals.append((lo, hi))
    return tuple(sorted(intervals))


def candidate_from(snapshot: ProfileSnapshot, today: date) -> Candidate:
    """Matching's features of one person, for the week after ``today``."""
    monday = reference_monday(today)
    offset: float | None = None
    if snapshot.time_zone:
        instant = datetime(monday.year, monday.month, monday.day, 12, tzinfo=ZoneInfo(snapshot.time_zone))
        delta = instant.utcoffset()
        offset = delta.total_seconds() / 3600 if delta is not None else None
    learning = {s.name for s in snapshot.skills if s.level is SkillLevel.LEARNING}
    return Candidate(
        person_id=snapshot.person_id,
        active=snapshot.status is ProfileStatus.ACTIVE,
        external=snapshot.external,
        level_rank=LEVEL_RANK[snapshot.level] if snapshot.level else None,
        team=snapshot.team,
        manager_id=snapshot.manager_id,
        utc_offset_hours=offset,
        skills={s.name: SKILL_WEIGHT[s.level] for s in snapshot.skills if s.level is not SkillLevel.LEARNING},
        goals=frozenset(snapshot.goals) | frozenset(learning),
        interests=frozenset(snapshot.interests),
        languages=frozenset(snapshot.languages),
        availability=_utc_intervals(snapshot, monday),
        mentor_capacity=snapshot.mentor.capacity if snapshot.mentor.opted_in else 0,
        mentee=snapshot.mentee.opted_in,
        preferences=snapshot.preferences,
        programmes=frozenset(snapshot.programmes),
    )


def overlap_minutes(a: tuple[Interval, ...], b: tuple[Interval, ...]) -> int:
    """Total minutes both are available in the reference week (inputs sorted, may overlap)."""
    total, i, j = 0, 0, 0
    merged_a, merged_b = merge_intervals(a), merge_intervals(b)
    while i < len(merged_a) and j < len(merged_b):
        lo = max(merged_a[i][0], merged_b[j][0])
        hi = min(merged_a[i][1], merged_b[j][1])
        total += max(0, hi - lo)
        if merged_a[i][1] < merged_b[j][1]:
            i += 1
        else:
            j += 1
    return total


def merge_intervals(intervals: tuple[Interval, ...]) -> list[Interval]:
    merged: list[Interval] = []
    for lo, hi in sorted(intervals):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged
