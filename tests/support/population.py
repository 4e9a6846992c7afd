"""A synthetic but realistic organisation for cohort rounds, built straight into matching's
``Candidate`` features (building 125,000 profile snapshots first would only time pydantic).

Seeded, so every run sees the same people:

- skills come in families (backend, data, design, ...) of twelve, plus general skills;
  families, and skills within a family, are Zipf-popular, so a few skills are on many
  profiles and many are rare;
- mentors hold three to twelve skills, mostly from their main family, at working, proficient
  or expert level; mentees want one to four (8% state no goals yet);
- people sit in teams of about fifteen; a team has a family and a time zone (whole, half-hour
  and 5:45 offsets) most members share; team leads (mentors) manage their team and report
  to a director;
- availability in local working hours: some broad (the same block on three to five
  weekdays), most narrow (one to three windows of one to two and a half hours), some none;
- languages, levels, and the preferences that constrain pairs: time-zone gap limits,
  same-team allowances, opting in to external mentors (3% of mentors are external).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from contracts.profile import MatchingPreferences
from services.matching.candidates import MINUTES_PER_WEEK, Candidate, Interval

FAMILIES = (
    "backend", "frontend", "data", "ml", "security", "mobile", "devops", "product",
    "design", "leadership", "sales", "finance", "legal", "people", "support", "qa",
    "cloud", "embedded", "research", "marketing", "analytics", "platform", "payments", "growth",
)  # fmt: skip
GENERAL = (
    "communication", "public-speaking", "writing", "negotiation", "mentoring",
    "career-planning", "stakeholder-management", "time-management",
)  # fmt: skip
SKILLS_PER_FAMILY = 12
ZONES = (  # (UTC offset in hours, share of teams)
    (-8, 6), (-7, 3), (-6, 5), (-5, 10), (-4, 2), (-3.5, 0.5), (-3, 4), (0, 8), (1, 14), (2, 6),
    (3, 3), (4, 1), (5.5, 9), (5.75, 0.5), (7, 1), (8, 5), (9, 4), (9.5, 0.5), (10, 2), (12, 1),
)  # fmt: skip
LANGUAGES = (
    (("en",), 60), (("en", "de"), 8), (("en", "es"), 8), (("en", "fr"), 5), (("es",), 4),
    (("en", "ja"), 3), (("ja",), 2), (("en", "pt"), 3), (("en", "hi"), 4), ((), 3),
)  # fmt: skip
SKILL_WEIGHTS = (0.5, 0.8, 1.0)  # working, proficient, expert
MENTOR_LEVELS = ((2, 0.12), (3, 0.4), (4, 0.3), (5, 0.14), (6, 0.04))
MENTEE_LEVELS = ((0, 0.06), (1, 0.34), (2, 0.35), (3, 0.2), (4, 0.05))
GAP_LIMITS = (2, 3, 4, 6, 8)
TEAM_SIZE = 15


@dataclass(frozen=True)
class Organisation:
    mentees: list[Candidate]
    mentors: list[Candidate]
    managers: dict[str, str | None]
    declined: frozenset[tuple[str, str]]


def _zipf(count: int, exponent: float) -> NDArray[np.float64]:
    weights = 1.0 / np.arange(1, count + 1) ** exponent
    return np.asarray(weights / weights.sum(), dtype=np.float64)


def _shares(table: tuple[tuple[object, float], ...]) -> NDArray[np.float64]:
    weights = np.array([w for _, w in table], dtype=np.float64)
    return np.asarray(weights / weights.sum(), dtype=np.float64)


class _People:
    """Random draws for ``count`` people, made in bulk: one numpy call per feature, the
    per-person loop below only reads them."""

    def __init__(self, rng: np.random.Generator, count: int, teams: int, team_zone: NDArray[np.int64],
                 team_family: NDArray[np.int64], mentors: bool) -> None:  # fmt: skip
        family_p = _zipf(len(FAMILIES), 0.8)
        self.team = rng.integers(0, teams, count)
        own = rng.random(count) < 0.7
        self.family = np.where(own, team_family[self.team], rng.choice(len(FAMILIES), count, p=family_p))
        self.second = np.where(rng.random(count) < 0.5, rng.choice(len(FAMILIES), count, p=family_p), -1)
        home = rng.random(count) < 0.8
        self.zone = np.where(home, team_zone[self.team], rng.choice(len(ZONES), count, p=_shares(ZONES)))
        levels = MENTOR_LEVELS if mentors else MENTEE_LEVELS
        self.level = rng.choice([lv for lv, _ in levels], count, p=_shares(levels))
        self.unknown_level = rng.random(count) < 0.03
        self.language = rng.choice(len(LANGUAGES), count, p=_shares(LANGUAGES))
        self.external = mentors & (rng.random(count) < 0.03)
        limited = rng.random(count) < (0.08 if mentors else 0.12)
        self.gap = np.where(limited, rng.choice(GAP_LIMITS, count), -1)
        self.same_team = rng.random(count) < 0.1
        self.opted_in = rng.random(count) < 0.1
        # Zipf-weighted samples without replacement: the top of log-weight + Gumbel noise.
        self.main_order = _gumbel_order(rng, count, _zipf(SKILLS_PER_FAMILY, 0.9))
        self.second_order = _gumbel_order(rng, count, _zipf(SKILLS_PER_FAMILY, 0.9))
        self.general_order = _gumbel_order(rng, count, _zipf(len(GENERAL), 1.0))
        if mentors:
            self.counts = np.column_stack(
                [rng.integers(3, 8, count), rng.integers(1, 4, count), rng.integers(0, 3, count)]
            )
        else:
            self.counts = np.column_stack(
                [
                    rng.integers(1, 3, count),
                    (rng.random(count) < 0.4).astype(int),
                    (rng.random(count) < 0.3).astype(int),
                ]
            )
            self.counts[rng.random(count) < 0.08] = 0
        self.weights = rng.integers(0, len(SKILL_WEIGHTS), (count, 24))
        self.shape = rng.random(count)
        self.broad = np.column_stack(
            [rng.integers(16, 29, count), rng.integers(4, 9, count), rng.integers(3, 6, count)]
        )
        self.broad_days = _gumbel_order(rng, count, np.full(5, 0.2))
        self.narrow = rng.integers(0, 5 * 17 * 4, (count, 3))  # day, start, length packed
        self.narrow_count = rng.integers(1, 4, count)

    def names(self, i: int) -> list[str]:
        main, extra, general = (int(c) for c in self.counts[i])
        names = [f"{FAMILIES[int(self.family[i])]}-{k}" for k in self.main_order[i, :main]]
        if self.second[i] >= 0 and extra:
            names += [f"{FAMILIES[int(self.second[i])]}-{k}" for k in self.second_order[i, :extra]]
        return names + [GENERAL[k] for k in self.general_order[i, :general]]

    def availability(self, i: int, offset: float) -> tuple[Interval, ...]:
        """Local working-hour windows, as UTC minutes of the reference week."""
        windows: list[tuple[int, int, int]] = []  # weekday, local start, length in minutes
        if self.shape[i] < 0.35:
            start, length, days = (int(x) for x in self.broad[i])
            windows = [(int(day), start * 30, length * 30) for day in self.broad_days[i, :days]]
        elif self.shape[i] < 0.9:
            for packed in self.narrow[i, : int(self.narrow_count[i])]:
                day, rest = divmod(int(packed), 17 * 4)
                start, length = divmod(rest, 4)
                windows.append((day, (16 + start) * 30, (2 + length) * 30))
        intervals: list[Interval] = []
        for day, start, length in windows:
            first = day * 24 * 60 + start - round(offset * 60)
            for shift in (-MINUTES_PER_WEEK, 0, MINUTES_PER_WEEK):
                lo, hi = max(first + shift, 0), min(first + length + shift, MINUTES_PER_WEEK)
                if lo < hi:
                    intervals.append((lo, hi))
        return tuple(sorted(intervals))


def _gumbel_order(rng: np.random.Generator, count: int, p: NDArray[np.float64]) -> NDArray[np.int64]:
    keys = np.log(p)[None, :] + rng.gumbel(size=(count, len(p)))
    return np.argsort(-keys, axis=1)


def organisation(mentees: int, mentors: int, *, seed: int = 2024, capacity: int = 4) -> Organisation:
    """``mentees`` people waiting in a cohort round and ``mentors`` with ``capacity`` seats."""
    rng = np.random.default_rng(seed)
    teams = max(2, (mentees + mentors) // TEAM_SIZE)
    team_zone = rng.choice(len(ZONES), size=teams, p=_shares(ZONES))
    team_family = rng.choice(len(FAMILIES), size=teams, p=_zipf(len(FAMILIES), 0.8))
    preferences: dict[tuple[int, bool, bool], MatchingPreferences] = {}

    def people(prefix: str, count: int, mentoring: bool) -> list[Candidate]:
        draw = _People(rng, count, teams, team_zone, team_family, mentoring)
        made = []
        for i in range(count):
            names = draw.names(i)
            skills = (
                {n: SKILL_WEIGHTS[int(w)] for n, w in zip(names, draw.weights[i], strict=False)}
                if mentoring
                else {}
            )
            goals = frozenset() if mentoring else frozenset(names)
            key = (int(draw.gap[i]), bool(draw.same_team[i]), bool(draw.opted_in[i]))
            if key not in preferences:
                preferences[key] = MatchingPreferences(
                    max_time_zone_gap_hours=None if key[0] < 0 else key[0],
                    same_team_allowed=key[1],
                    external_mentor=key[2],
                )
            offset = float(ZONES[int(draw.zone[i])][0])
            external = bool(draw.external[i])
            made.append(
                Candidate(
                    person_id=f"{prefix}{i:06d}",
                    active=True,
                    external=external,
                    level_rank=None if draw.unknown_level[i] else int(draw.level[i]),
                    team=None if external else f"T{int(draw.team[i]):05d}",
                    manager_id=None,
                    utc_offset_hours=offset,
                    skills=skills,
                    goals=goals,
                    interests=frozenset(),
                    languages=frozenset(LANGUAGES[int(draw.language[i])][0]),
                    availability=draw.availability(i, offset),
                    mentor_capacity=capacity if mentoring else 0,
                    mentee=not mentoring,
                    preferences=preferences[key],
                    programmes=frozenset(),
                )
            )
        return made

    mentor_list = people("M", mentors, True)
    mentee_list = people("E", mentees, False)
    declined = frozenset(
        (mentor_list[int(j)].person_id, mentee_list[int(i)].person_id)
        for i, j in zip(
            np.flatnonzero(rng.random(mentees) < 0.005), rng.integers(0, mentors, mentees), strict=False
        )
    )
    return Organisation(mentee_list, mentor_list, _hierarchy(mentor_list, mentee_list, rng), declined)


def _hierarchy(
    mentors: list[Candidate], mentees: list[Candidate], rng: np.random.Generator
) -> dict[str, str | None]:
    """Each team's first mentor leads it; leads report to one of the directors."""
    directors = [m.person_id for m in mentors[: max(1, len(mentors) // 150)]]
    leads: dict[str, str] = {}
    for mentor in mentors:
        if mentor.team is not None:
            leads.setdefault(mentor.team, mentor.person_id)
    managers: dict[str, str | None] = dict.fromkeys(directors)
    picks = rng.integers(0, len(directors), len(mentors) + len(mentees))
    for pick, person in zip(picks, (*mentors, *mentees), strict=True):
        if person.person_id in managers:
            continue
        lead = leads.get(person.team) if person.team is not None else None
        managers[person.person_id] = (
            directors[int(pick)] if lead is None or lead == person.person_id else lead
        )
    return managers
