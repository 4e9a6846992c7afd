"""Which programme a request belongs to, and who may mentor in each form."""

from __future__ import annotations

import pytest

from contracts.common import MentorshipKind
from contracts.programmes import load_programmes
from services.matching.forms import UnknownProgramme, as_mentee, mentors_for, programme_for, request_key
from tests.unit.test_matching_score import mentor, person

PROGRAMMES = load_programmes()


def test_a_reverse_request_under_the_default_programme_goes_to_the_reverse_programme() -> None:
    assert programme_for(MentorshipKind.REVERSE, "onboarding", PROGRAMMES).programme_id == "reverse-mentoring"


def test_an_external_mentor_is_asked_for_within_the_one_to_one_programme_named() -> None:
    assert programme_for(MentorshipKind.EXTERNAL, "career-growth", PROGRAMMES).programme_id == "career-growth"


def test_an_unknown_programme_is_refused_by_name() -> None:
    with pytest.raises(UnknownProgramme, match="there is no programme 'nope'"):
        programme_for(MentorshipKind.ONE_TO_ONE, "nope", PROGRAMMES)


def test_one_to_one_under_a_circles_programme_is_refused_with_what_it_runs() -> None:
    with pytest.raises(UnknownProgramme, match="runs peer_circle"):
        programme_for(MentorshipKind.ONE_TO_ONE, "circles", PROGRAMMES)


def test_a_one_to_one_request_shares_its_key_with_automatic_enrolment_and_other_forms_do_not() -> None:
    assert request_key("E1", "onboarding", MentorshipKind.ONE_TO_ONE) == "E1:onboarding"
    assert request_key("E1", "onboarding", MentorshipKind.EXTERNAL) == "E1:onboarding:external"


def test_only_external_mentors_are_candidates_for_an_external_request() -> None:
    people = [mentor("INSIDE"), mentor("OUTSIDE", external=True), person("MENTEE")]
    found = mentors_for(MentorshipKind.EXTERNAL, person("MENTEE"), people)
    assert [m.person_id for m in found] == ["OUTSIDE"]


def test_asking_for_an_external_mentor_counts_as_opting_in() -> None:
    assert as_mentee(MentorshipKind.EXTERNAL, person("MENTEE")).preferences.external_mentor
    assert not as_mentee(MentorshipKind.ONE_TO_ONE, person("MENTEE")).preferences.external_mentor


def test_a_reverse_mentor_is_a_more_junior_volunteer_who_knows_one_of_the_seniors_goals() -> None:
    senior = person("LEAD", level="principal", goals=["genai", "tiktok"])
    volunteer = {"reverse_mentorship": True}
    genai = [{"name": "genai", "level": "proficient"}]
    people = [
        person("FITS", level="junior", preferences=volunteer, skills=genai),
        person("NOT-VOLUNTEERING", level="junior", skills=genai),
        person("TOO-SENIOR", level="principal", preferences=volunteer, skills=genai),
        person(
            "WRONG-SKILL", level="junior", preferences=volunteer, skills=[{"name": "css", "level": "expert"}]
        ),
    ]
    found = mentors_for(MentorshipKind.REVERSE, senior, people)
    assert [m.person_id for m in found] == ["FITS"]
    assert found[0].mentor_capacity == 1  # one reverse mentee without offering regular capacity
