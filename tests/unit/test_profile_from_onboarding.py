"""A new hire's first profile, from the onboarding event alone."""

from __future__ import annotations

from contracts.profile import ProfileStatus
from services.profile.domain import DEFAULT_PROGRAMME, profile_from_onboarding
from tests.support.builders import onboarding


def test_a_new_hire_becomes_an_active_mentee_in_the_onboarding_programme() -> None:
    snapshot = profile_from_onboarding(onboarding("E1").payload)
    assert snapshot.person_id == "E1"
    assert snapshot.revision == 1
    assert snapshot.status is ProfileStatus.ACTIVE
    assert snapshot.mentee.opted_in
    assert not snapshot.mentor.opted_in
    assert snapshot.programmes == [DEFAULT_PROGRAMME]


def test_programmes_named_by_the_hr_system_replace_the_default() -> None:
    snapshot = profile_from_onboarding(onboarding("E2", programmes=["career-growth"]).payload)
    assert snapshot.programmes == ["career-growth"]
