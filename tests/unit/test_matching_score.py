"""Hard constraints and the explained compatibility score of a mentoring pair."""

from __future__ import annotations

from datetime import date
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from contracts.profile import ProfileSnapshot
from contracts.programmes import DEFAULT_PROGRAMMES, MatchingWeights
from services.matching.candidates import Candidate, candidate_from, overlap_minutes
from services.matching.scoring import Ineligible, ineligibility, management_chain, rank_mentors, score

TODAY = date(2026, 11, 27)  # the reference week is Monday 30 November: Berlin is UTC+1
SUMMER = date(2026, 6, 26)  # the reference week is Monday 29 June: Berlin is UTC+2
ONBOARDING = next(p for p in DEFAULT_PROGRAMMES if p.programme_id == "onboarding")


def person(person_id: str, today: date = TODAY, **fields: Any) -> Candidate:
    base: dict[str, Any] = {
        "person_id": person_id,
        "revision": 1,
        "status": "active",
        "display_name": person_id,
        "email": f"{person_id.lower()}@example.com",
        "time_zone": "Europe/Berlin",
        "team": "payments",
        "level": "mid",
    }
    return candidate_from(ProfileSnapshot.model_validate({**base, **fields}), today)


def mentor(person_id: str = "M", **fields: Any) -> Candidate:
    return person(
        person_id,
        **{"mentor": {"opted_in": True, "capacity": 2}, "level": "senior", "team": "data", **fields},
    )


def test_availability_is_compared_in_utc_and_follows_daylight_saving() -> None:
    window = [{"weekday": "tuesday", "start": "09:00", "end": "11:00"}]
    winter = person("A", availability=window)
    summer = person("A", SUMMER, availability=window)
    tuesday = 24 * 60
    assert winter.availability == ((tuesday + 8 * 60, tuesday + 10 * 60),)
    assert summer.availability == ((tuesday + 7 * 60, tuesday + 9 * 60),)


def test_people_in_different_time_zones_share_only_their_real_overlap() -> None:
    berlin = person("A", availability=[{"weekday": "monday", "start": "16:00", "end": "19:00"}])
    new_york = person(
        "B",
        time_zone="America/New_York",
        availability=[{"weekday": "monday", "start": "09:00", "end": "12:00"}],
    )
    # Berlin 16-19 is 15-18 UTC; New York 09-12 is 14-17 UTC: two shared hours.
    assert overlap_minutes(berlin.availability, new_york.availability) == 120


intervals = st.lists(
    st.tuples(st.integers(0, 500), st.integers(1, 120)).map(lambda t: (t[0], t[0] + t[1])), max_size=6
)


@given(a=intervals, b=intervals)
def test_overlap_matches_counting_shared_minutes_one_by_one(
    a: list[tuple[int, int]], b: list[tuple[int, int]]
) -> None:
    minutes_a = {m for lo, hi in a for m in range(lo, hi)}
    minutes_b = {m for lo, hi in b for m in range(lo, hi)}
    assert overlap_minutes(tuple(sorted(a)), tuple(sorted(b))) == len(minutes_a & minutes_b)


def test_a_manager_or_anyone_above_them_never_mentors_their_report() -> None:
    managers = {"E": "TL", "TL": "DIR", "DIR": None}
    assert management_chain("E", managers) == ["TL", "DIR"]
    verdict = ineligibility(mentor("DIR"), person("E"), managers=managers, declined=frozenset())
    assert verdict == Ineligible("the mentor is in the mentee's management chain")
    reverse = ineligibility(mentor("E"), person("DIR"), managers=managers, declined=frozenset())
    assert reverse == Ineligible("the mentee is in the mentor's management chain")


def test_a_pair_declined_before_is_never_proposed_again() -> None:
    verdict = ineligibility(mentor("M"), person("E"), managers={}, declined=frozenset({("M", "E")}))
    assert verdict == Ineligible("this pair was declined before")


def test_the_smaller_time_zone_limit_of_the_two_applies() -> None:
    far = mentor("M", time_zone="Asia/Tokyo")  # 8 hours ahead of Berlin in winter
    picky = person("E", preferences={"max_time_zone_gap_hours": 4})
    relaxed = person("E")
    assert ineligibility(far, picky, managers={}, declined=frozenset()) == Ineligible(
        "8 hours apart, more than the 4 allowed"
    )
    assert ineligibility(far, relaxed, managers={}, declined=frozenset()) is None


def test_same_team_only_when_both_allow_it_and_external_mentors_only_when_wanted() -> None:
    teammate = mentor("M", team="payments")
    assert ineligibility(teammate, person("E"), managers={}, declined=frozenset()) is not None
    both_allow = mentor("M", team="payments", preferences={"same_team_allowed": True})
    assert (
        ineligibility(
            both_allow,
            person("E", preferences={"same_team_allowed": True}),
            managers={},
            declined=frozenset(),
        )
        is None
    )
    external = mentor("X", external=True, organisation="Acme")
    assert ineligibility(external, person("E"), managers={}, declined=frozenset()) == Ineligible(
        "the mentee has not opted in to external mentors"
    )


def test_the_score_explains_itself_criterion_by_criterion() -> None:
    result = score(
        mentor("M", skills=[{"name": "kafka", "level": "expert"}], languages=["en"]),
        person("E", goals=["kafka", "go"], languages=["en", "de"], level="junior"),
        ONBOARDING,
    )
    by_name = {c.criterion: c for c in result.breakdown}
    assert by_name["skill_coverage"].explanation == "Covers 1 of 2 goals: kafka"
    assert by_name["skill_coverage"].value == 0.5
    assert by_name["shared_language"].explanation == "Both speak en"
    assert by_name["cross_team"].value == 1.0
    assert abs(result.total - sum(c.contribution for c in result.breakdown)) < 1e-5


weights = st.builds(
    MatchingWeights,
    skill_coverage=st.floats(0, 5),
    seniority_gap=st.floats(0, 5),
    availability_overlap=st.floats(0, 5),
    shared_language=st.floats(0, 5),
    cross_team=st.floats(0.01, 5),
)


@given(w=weights, level=st.sampled_from(["intern", "junior", "mid", "senior", "staff", "director"]))
def test_any_weights_give_a_score_between_zero_and_one_whose_parts_add_up(
    w: MatchingWeights, level: str
) -> None:
    programme = ONBOARDING.model_copy(update={"weights": w})
    result = score(mentor("M"), person("E", level=level, goals=["kafka"]), programme)
    assert 0 <= result.total <= 1 + 1e-6
    assert abs(sum(c.weight for c in result.breakdown) - 1) < 1e-4
    assert abs(result.total - sum(c.contribution for c in result.breakdown)) < 1e-4


def test_mentors_are_ranked_best_first_and_the_ineligible_are_left_out() -> None:
    mentee = person("E", goals=["kafka", "sql"], manager_id="BOSS")
    pool = [
        mentor("BOSS", skills=[{"name": "kafka", "level": "expert"}, {"name": "sql", "level": "expert"}]),
        mentor("GOOD", skills=[{"name": "kafka", "level": "expert"}, {"name": "sql", "level": "proficient"}]),
        mentor("OK", skills=[{"name": "kafka", "level": "working"}]),
        mentor("TIED", skills=[{"name": "kafka", "level": "working"}]),
        person("NOT-A-MENTOR"),
    ]
    ranked = rank_mentors(
        mentee, pool, ONBOARDING, managers={"E": "BOSS"}, declined=frozenset({("GOOD", "X")})
    )

    assert [r.mentor.person_id for r in ranked] == ["GOOD", "OK", "TIED"]
    assert ranked[0].score.total > ranked[1].score.total
    assert ranked[1].score.total == ranked[2].score.total
