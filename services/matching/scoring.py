"""Who may mentor whom (hard constraints), and how well (an explained compatibility score).

A score is a weighted mean of criteria, each between 0 and 1, with the programme's weights
normalised to sum to 1; every criterion carries a sentence saying why it scored what it did,
and the breakdown travels in the proposal event so the log explains each match.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
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
    mentee_chain: Collection[str] | None = None,
) -> Ineligible | None:
    """Why this pair must never be proposed, or None when it may be. ``mentee_chain`` is
    ``management_chain(mentee)``, when the caller judges one mentee against many mentors."""
    if mentor.person_id == mentee.person_id:
        return Ineligible("the same person")
    if not mentor.mentor:
        return Ineligible("the mentor is not an active mentor with capacity")
    if not mentee.active:
        return Ineligible("the mentee is not active")
    if mentee_chain is None:
        mentee_chain = management_chain(mentee.person_id, managers)
    if mentor.person_id in mentee_chain:
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


# Each criterion is a value, computed for every mentor a mentee is ranked against, and a
# sentence, written only for the pair that is proposed: ranking a pool needs totals alone.


def _skill_value(mentor: Candidate, mentee: Candidate) -> float:
    if not mentee.goals:
        return NEUTRAL
    # Summed in goal order, as the sentence lists them: the total must not depend on set order.
    return sum(mentor.skills[g] for g in sorted(mentee.goals) if g in mentor.skills) / len(mentee.goals)


def _skill_why(mentor: Candidate, mentee: Candidate) -> str:
    if not mentee.goals:
        return "The mentee has not stated goals yet"
    covered = sorted(g for g in mentee.goals if g in mentor.skills)
    if not covered:
        return f"Covers none of {len(mentee.goals)} goals"
    return f"Covers {len(covered)} of {len(mentee.goals)} goals: {', '.join(covered[:5])}"


def _seniority_gap(mentor: Candidate, mentee: Candidate) -> int | None:
    if mentor.level_rank is None or mentee.level_rank is None:
        return None
    return mentor.level_rank - mentee.level_rank


def _seniority_value(mentor: Candidate, mentee: Candidate, programme: Programme) -> float:
    gap = _seniority_gap(mentor, mentee)
    if gap is None:
        return NEUTRAL
    low, high = programme.min_seniority_gap, programme.max_seniority_gap
    if low <= gap <= high:
        return 1.0
    distance = low - gap if gap < low else gap - high
    return max(0.0, 1 - distance / 3)


def _seniority_why(mentor: Candidate, mentee: Candidate, programme: Programme) -> str:
    gap = _seniority_gap(mentor, mentee)
    if gap is None:
        return "Seniority unknown for one of them"
    low, high = programme.min_seniority_gap, programme.max_seniority_gap
    where = "within" if low <= gap <= high else "outside"
    return f"Seniority gap of {gap} is {where} {low} to {high}"


def _shared_minutes(mentor: Candidate, mentee: Candidate) -> int | None:
    if not mentor.availability or not mentee.availability:
        return None
    return overlap_minutes(mentor.availability, mentee.availability)


def _availability_value(minutes: int | None) -> float:
    return NEUTRAL if minutes is None else min(1.0, minutes / TARGET_OVERLAP_MINUTES)


def _availability_why(minutes: int | None) -> str:
    return (
        "Availability not shared yet by one of them"
        if minutes is None
        else f"{minutes / 60:g} shared hours a week"
    )


def _language_value(mentor: Candidate, mentee: Candidate) -> float:
    if not mentor.languages or not mentee.languages:
        return NEUTRAL
    return 0.0 if mentor.languages.isdisjoint(mentee.languages) else 1.0


def _language_why(mentor: Candidate, mentee: Candidate) -> str:
    if not mentor.languages or not mentee.languages:
        return "Languages not stated by one of them"
    shared = sorted(mentor.languages & mentee.languages)
    return f"Both speak {', '.join(shared[:3])}" if shared else "No shared language stated"


def _cross_team_value(mentor: Candidate, mentee: Candidate) -> float:
    if mentor.team is None or mentee.team is None:
        return NEUTRAL
    return 1.0 if mentor.team != mentee.team else 0.0


def _cross_team_why(mentor: Candidate, mentee: Candidate) -> str:
    if mentor.team is None or mentee.team is None:
        return "Team unknown for one of them"
    return "From another team: new perspectives" if mentor.team != mentee.team else "From the same team"


CRITERIA = ("skill_coverage", "seniority_gap", "availability_overlap", "shared_language", "cross_team")


def _shares(weights: MatchingWeights) -> tuple[float, ...]:
    """Each criterion's weight over the sum of the weights, in ``CRITERIA`` order."""
    given = tuple(getattr(weights, name) for name in CRITERIA)
    total_weight = sum(given)
    return tuple(weight / total_weight for weight in given)


def _values(
    mentor: Candidate, mentee: Candidate, programme: Programme, minutes: int | None
) -> tuple[float, ...]:
    return (
        _skill_value(mentor, mentee),
        _seniority_value(mentor, mentee, programme),
        _availability_value(minutes),
        _language_value(mentor, mentee),
        _cross_team_value(mentor, mentee),
    )


def _total(shares: tuple[float, ...], values: tuple[float, ...]) -> float:
    # Rounded as the breakdown is (each contribution, then their sum), so the total ranked
    # with is the total the proposal carries, to the bit.
    return round(sum(round(share * value, 6) for share, value in zip(shares, values, strict=True)), 6)


def score(mentor: Candidate, mentee: Candidate, programme: Programme) -> Score:
    """The compatibility of an eligible pair, with its explained breakdown."""
    minutes = _shared_minutes(mentor, mentee)
    shares = _shares(programme.weights)
    values = _values(mentor, mentee, programme, minutes)
    sentences = (
        _skill_why(mentor, mentee),
        _seniority_why(mentor, mentee, programme),
        _availability_why(minutes),
        _language_why(mentor, mentee),
        _cross_team_why(mentor, mentee),
    )
    components = tuple(
        ScoreComponent(
            criterion=name,
            weight=round(share, 6),
            value=round(value, 6),
            contribution=round(share * value, 6),
            explanation=why,
        )
        for name, share, value, why in zip(CRITERIA, shares, values, sentences, strict=True)
    )
    return Score(total=_total(shares, values), breakdown=components)


class Ranked:
    """A mentor who may mentor the mentee, with the pair's total. The explained breakdown is
    built the first time it is asked for: a ranking reads every mentor's total, a proposal
    one mentor's breakdown."""

    __slots__ = ("_mentee", "_programme", "_score", "mentor", "total")

    def __init__(self, mentor: Candidate, score: Score) -> None:
        self.mentor = mentor
        self.total = score.total
        self._score: Score | None = score
        self._mentee: Candidate | None = None
        self._programme: Programme | None = None

    @classmethod
    def unexplained(cls, mentor: Candidate, mentee: Candidate, programme: Programme, total: float) -> Ranked:
        ranked = cls.__new__(cls)
        ranked.mentor, ranked.total, ranked._score = mentor, total, None
        ranked._mentee, ranked._programme = mentee, programme
        return ranked

    @property
    def score(self) -> Score:
        if self._score is None:
            assert self._mentee is not None
            assert self._programme is not None
            self._score = score(self.mentor, self._mentee, self._programme)
        return self._score


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
    shares = _shares(programme.weights)
    chain = frozenset(management_chain(mentee.person_id, managers))
    eligible = [
        Ranked.unexplained(
            mentor,
            mentee,
            programme,
            _total(shares, _values(mentor, mentee, programme, _shared_minutes(mentor, mentee))),
        )
        for mentor in pool
        if ineligibility(mentor, mentee, managers=managers, declined=declined, mentee_chain=chain) is None
    ]
    eligible.sort(key=lambda r: (-r.total, r.mentor.person_id))
    return eligible[:limit] if limit is not None else eligible
