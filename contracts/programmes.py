"""Programmes: the formal mentorship programmes people are enrolled in.

Programmes are configuration, not events: they change rarely, are owned by the people team,
and every service needs the same view at start-up. Services load them with
``load_programmes`` from a JSON file (``MENTORSHIP_PROGRAMMES_FILE``) or use the defaults
below; the model is part of the contracts so the file has a published JSON Schema too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Self

from pydantic import Field, TypeAdapter, model_validator

from contracts.common import Frozen, MentorshipKind, ShortText, Tag
from contracts.scheduling import Cadence


class MatchingWeights(Frozen):
    """Relative weight of each criterion of the compatibility score."""

    skill_coverage: float = Field(default=0.4, ge=0)
    seniority_gap: float = Field(default=0.15, ge=0)
    availability_overlap: float = Field(default=0.2, ge=0)
    shared_language: float = Field(default=0.1, ge=0)
    cross_team: float = Field(default=0.15, ge=0)

    @model_validator(mode="after")
    def _not_all_zero(self) -> Self:
        if not any(self.model_dump().values()):
            raise ValueError("at least one matching weight must be above zero")
        return self


class EnrolmentRule(Frozen):
    """Who is enrolled automatically; anyone may also opt in through their profile."""

    new_hires: bool = Field(default=False, description="Enrol every onboarded employee.")
    levels: list[Tag] = Field(default_factory=list, description="Enrol people at these levels.")


class Programme(Frozen):
    programme_id: Tag
    name: ShortText
    kind: MentorshipKind
    weights: MatchingWeights = MatchingWeights()
    cadence: Cadence = Cadence.FORTNIGHTLY
    duration_weeks: int = Field(default=12, ge=1, le=104)
    inactive_after_weeks: int = Field(
        default=4, ge=1, le=52, description="Nudge when no session for this long."
    )
    enrolment: EnrolmentRule = EnrolmentRule()
    min_seniority_gap: int = Field(default=1, ge=-6, le=6, description="Mentor minus mentee level rank.")
    max_seniority_gap: int = Field(default=3, ge=-6, le=6)
    circle_size: int = Field(default=6, ge=2, le=12)
    board_seats: int = Field(default=3, ge=2, le=6, description="Mentors on a personal advisory board.")


DEFAULT_PROGRAMMES: tuple[Programme, ...] = (
    Programme(
        programme_id="onboarding",
        name="Onboarding buddy",
        kind=MentorshipKind.ONE_TO_ONE,
        cadence=Cadence.WEEKLY,
        duration_weeks=12,
        inactive_after_weeks=2,
        enrolment=EnrolmentRule(new_hires=True),
        min_seniority_gap=0,
        max_seniority_gap=3,
        weights=MatchingWeights(skill_coverage=0.25, availability_overlap=0.3, cross_team=0.05),
    ),
    Programme(
        programme_id="career-growth",
        name="Career growth mentoring",
        kind=MentorshipKind.ONE_TO_ONE,
        duration_weeks=26,
        weights=MatchingWeights(skill_coverage=0.5, seniority_gap=0.2, cross_team=0.2),
    ),
    Programme(
        programme_id="reverse-mentoring",
        name="Reverse mentoring",
        kind=MentorshipKind.REVERSE,
        cadence=Cadence.MONTHLY,
        min_seniority_gap=-6,
        max_seniority_gap=-1,
    ),
    Programme(
        programme_id="circles",
        name="Peer mentoring circles",
        kind=MentorshipKind.PEER_CIRCLE,
        cadence=Cadence.FORTNIGHTLY,
        min_seniority_gap=-1,
        max_seniority_gap=1,
    ),
    Programme(
        programme_id="advisory-board",
        name="Personal advisory board",
        kind=MentorshipKind.ADVISORY_BOARD,
        cadence=Cadence.MONTHLY,
        duration_weeks=52,
    ),
)

_PROGRAMME_LIST = TypeAdapter(list[Programme])


def load_programmes(path: Path | None = None) -> dict[str, Programme]:
    """Programmes by id, from a JSON file (a list of programmes) or the defaults."""
    programmes = (
        _PROGRAMME_LIST.validate_json(path.read_bytes()) if path is not None else list(DEFAULT_PROGRAMMES)
    )
    by_id = {p.programme_id: p for p in programmes}
    if len(by_id) != len(programmes):
        raise ValueError("programme ids must be unique")
    return by_id


def programmes_schema() -> dict[str, object]:
    schema: dict[str, object] = _PROGRAMME_LIST.json_schema()
    return schema
