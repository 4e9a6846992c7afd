"""Who may mentor whom (hard constraints), and how well (an explained compatibility score).

A score is a weighted mean of criteria, each between 0 and 1, with the programme's weights
normalised to sum to 1; every criterion carries a sentence saying why it scored what it did,
and the breakdown travels in the proposal event so the log explains each match.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from contracts.matching import ScoreComponent
from contracts.programmes import MatchingWeights, Programme
from services.matching.candidates import Candidate, overlap_minutes

# Two shared hours a week is plenty for a mentoring pair; more adds nothing to the score.
TARGET_OVERLAP_MINUTES = 120
NEUTRAL = 0.5


@dataclass(frozen=True)
class Ineligible:
    reason: str


@dataclass(frozen=True)
class Score:
    total: float
    breakdown: tuple[ScoreComponent, ...]


def management_chain(person_id: str, managers: Mapping[str, str | None], limit: int = 50) -> list[str]:
    """The person's managers, nearest first (cycles in HR data are cut off)."""
    chain: list[str] = []
    current = managers.get(person_id)
    while current is not None and current not in chain and current != person_id and len(chain) < limit:
        chain.append(current)
        current = managers.get(current)
    return chain


def ineligibility(
    mentor: Candidate,
    mentee: Candidate,
    *,
    managers: Mapping[str, str | None],
    declined: frozenset[tuple[str, str]],
) -> Ineligible | None:
    """Why this pair must never be proposed, or None when it may be."""
    if mentor.person_id == mentee.person_id:
        return Ineligible("the same person")
    if not mentor.mentor:
        return Ineligible("the mentor is not an active mentor with capacity")
    if not mentee.active:
        return Ineligible("the mentee is not active")
    if mentor.person_id in management_chain(mentee.person_id, managers):
        return Ineligible("the mentor is in the mentee's management chain")
    if mentee.person_id in management_chain(mentor.person_id, managers):
        return Ineligible("the mentee is in the mentor's management chain")
    if (mentor.person_id, mentee.person_id) in declined:
        return Ineligible("this pair was declined before")
    if mentor.external and not mentee.preferences.external_mentor:
        return Ineligible("the mentee has not opted in to external mentors")
    if (
        mentor.team is not None
        and mentor.team == mentee.team
        and not (mentee.preferences.same_team_allowed and mentor.preferences.same_team_allowed)
    ):
        return Ineligible("same team, and not both allow it")
    gap = _time_zone_gap(mentor, mentee)
    if gap is not None:
        limits = [
            p.max_time_zone_gap_hours
            for p in (mentor.preferences, mentee.preferences)
            if p.max_time_zone_gap_hours is not None
        ]
        if limits and gap > min(limits):
            return Ineligible(f"{gap:g} hours apart, more than the {min(limits)} allowed")
    return None


def _time_zone_gap(a: Candidate, b: Candidate) -> float | None:
    if a.utc_offset_hours is None or b.utc_offset_hours is None:
        return None
    return abs(a.utc_offset_hours - b.utc_offset_hours)


def _skill_coverage(mentor: Candidate, mentee: Candidate) -> tuple[float, str]:
    if not mentee.goals:
        return NEUTRAL, "The mentee has not stated goals yet"
    covered = sorted(g for g in mentee.goals if g in mentor.skills)
    value = sum(mentor.skills[g] for g in covered) / len(mentee.goals)
    if not covered:
        return 0.0, f"Covers none of {len(mentee.goals)} goals"
    return value, f"Covers {len(covered)} of {len(mentee.goals)} goals: {', '.join(covered[:5])}"


def _seniority(mentor: Candidate, mentee: Candidate, programme: Programme) -> tuple[float, str]:
    if mentor.level_rank is None or mentee.level_rank is None:
        return NEUTRAL, "Seniority unknown for one of them"
    gap = mentor.level_rank - mentee.level_rank
    low, high = programme.min_seniority_gap, programme.max_seniority_gap
    if low <= gap <= high:
        return 1.0, f"Seniority gap of {gap} is within {low} to {high}"
    distance = low - gap if gap < low else gap - high
    return max(0.0, 1 - distance / 3), f"Seniority gap of {gap} is outside {low} to {high}"


def _availability(mentor: Candidate, mentee: Candidate) -> tuple[float, str]:
    if not mentor.availability or not mentee.availability:
        return NEUTRAL, "Availability not shared yet by one of them"
    minutes = overlap_minutes(mentor.availability, mentee.availability)
    value = min(1.0, minutes / TARGET_OVERLAP_MINUTES)
    return value, f"{minutes / 60:g} shared hours a week"


def _language(mentor: Candidate, mentee: Candidate) -> tuple[float, str]:
    if not mentor.languages or not mentee.languages:
        return NEUTRAL, "Languages not stated by one of them"
    shared = sorted(mentor.languages & mentee.languages)
    if shared:
        return 1.0, f"Both speak {', '.join(shared[:3])}"
    return 0.0, "No shared language stated"


def _cross_team(mentor: Candidate, mentee: Candidate) -> tuple[float, str]:
    if mentor.team is None or mentee.team is None:
        return NEUTRAL, "Team unknown for one of them"
    if mentor.team != mentee.team:
        return 1.0, "From another team: new perspectives"
    return 0.0, "From the same team"


def score(mentor: Candidate, mentee: Candidate, programme: Programme) -> Score:
    """The compatibility of an eligible pair, with its explained breakdown."""
    weights: MatchingWeights = programme.weights
    criteria = {
        "skill_coverage": (weights.skill_coverage, _skill_coverage(mentor, mentee)),
        "seniority_gap": (weights.seniority_gap, _seniority(mentor, mentee, programme)),
        "availability_overlap": (weights.availability_overlap, _availability(mentor, mentee)),
        "shared_language": (weights.shared_language, _language(mentor, mentee)),
        "cross_team": (weights.cross_team, _cross_team(mentor, mentee)),
    }
    total_weight = sum(weight for weight, _ in criteria.values())
    components = []
    for name, (weight, (value, why)) in criteria.items():
        share = weight / total_weight
        components.append(
            ScoreComponent(
                criterion=name,
                weight=round(share, 6),
                value=round(value, 6),
                contribution=round(share * value, 6),
                explanation=why,
            )
        )
    return Score(total=round(sum(c.contribution for c in components), 6), breakdown=tuple(components))


@dataclass(frozen=True)
class Ranked:
    mentor: Candidate
    score: Score


def rank_mentors(
    mentee: Candidate,
    pool: list[Candidate],
    programme: Programme,
    *,
    managers: Mapping[str, str | None],
    declined: frozenset[tuple[str, str]],
    limit: int | None = None,
) -> list[Ranked]:
    """Every mentor who may mentor ``mentee``, best first (ties broken by person id, so the
    order is the same on every replica)."""
    eligible = [
        Ranked(mentor, score(mentor, mentee, programme))
        for mentor in pool
        if ineligibility(mentor, mentee, managers=managers, declined=declined) is None
    ]
    eligible.sort(key=lambda r: (-r.score.total, r.mentor.person_id))
    return eligible[:limit] if limit is not None else eligible
