"""Standings: periods, the feedback-weighted score, badge criteria and leaderboards."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.recognition import Badge, PointsReason
from services.recognition.ledger import Totals
from services.recognition.rules import BadgeRules
from services.recognition.standings import (
    ALL_TIME,
    EVERY_PROGRAMME,
    boards,
    collection_of,
    earned_badges,
    increments,
    period_bounds,
    period_keys,
    previous_month,
    rank,
    resolve_period,
    score,
)

RULES = BadgeRules()


def test_work_counts_in_its_month_its_quarter_and_all_time() -> None:
    assert period_keys(datetime(2026, 11, 30, 23, 30, tzinfo=UTC)) == ("2026-11", "2026-q4", ALL_TIME)


def test_periods_are_asked_for_by_name_or_by_key_and_nonsense_is_refused() -> None:
    today = date(2026, 2, 14)
    assert resolve_period("month", today) == "2026-02"
    assert resolve_period("quarter", today) == "2026-q1"
    assert resolve_period("all", today) == ALL_TIME
    assert resolve_period("2025-q3", today) == "2025-q3"
    for nonsense in ("2026-13", "2026-q5", "last-week", "2026"):
        with pytest.raises(ValueError, match="is not a period"):
            resolve_period(nonsense, today)


def test_a_period_knows_its_first_and_last_day() -> None:
    assert period_bounds("2026-12") == (date(2026, 12, 1), date(2026, 12, 31))
    assert period_bounds("2024-q1") == (date(2024, 1, 1), date(2024, 3, 31))
    assert previous_month(date(2027, 1, 5)) == "2026-12"


def test_one_entry_increments_the_totals_and_those_of_its_programme() -> None:
    change = Totals(points=10, sessions=1, rating_sum=5, rating_count=1, reasons={"session_mentored": 1})
    inc = increments(change, "career.growth")
    assert inc["points"] == 10
    assert inc["programmes.career%2Egrowth.points"] == 10
    assert inc["reasons.session_mentored"] == 1
    assert increments(change, None).keys() == {
        "points",
        "sessions",
        "rating_sum",
        "rating_count",
        "reasons.session_mentored",
    }


def test_each_period_has_a_collection_of_its_own() -> None:
    assert collection_of("2026-11") == "standings_2026_11"
    assert collection_of(ALL_TIME) == "standings_all"


def test_people_without_ratings_score_their_points_and_feedback_moves_the_score() -> None:
    assert score(Totals(points=100)) == 100
    assert score(Totals(points=100, rating_sum=25, rating_count=5)) > 100
    assert score(Totals(points=100, rating_sum=5, rating_count=5)) < 100


def test_more_sessions_with_poor_feedback_do_not_beat_fewer_sessions_people_valued() -> None:
    busy = Totals(points=20 * 10, sessions=20, rating_sum=20 * 2, rating_count=20)
    valued = Totals(points=12 * 10, sessions=12, rating_sum=12 * 5, rating_count=12)
    assert [s.person_id for s in rank([("busy", busy), ("valued", valued)], 10)] == ["valued", "busy"]


@given(st.integers(0, 500), st.integers(0, 60), st.integers(1, 5))
def test_the_score_never_falls_below_a_third_of_the_points_nor_exceeds_five_thirds(
    points: int, count: int, rating: int
) -> None:
    s = score(Totals(points=points, rating_sum=count * rating, rating_count=count))
    assert points / 3 - 0.01 <= s <= points * 5 / 3 + 0.01


def test_session_badges_come_at_one_five_ten_and_twenty_five_sessions() -> None:
    assert set(earned_badges(Totals(sessions=1), RULES)) == {Badge.FIRST_SESSION}
    assert set(earned_badges(Totals(sessions=10), RULES)) == {
        Badge.FIRST_SESSION,
        Badge.SESSIONS_5,
        Badge.SESSIONS_10,
    }
    assert Badge.SESSIONS_25 in earned_badges(Totals(sessions=25), RULES)


def test_kind_badges_need_the_work_of_their_kind() -> None:
    def with_reason(reason: PointsReason, n: int = 1) -> set[Badge]:
        return set(earned_badges(Totals(reasons={reason.value: n}), RULES))

    assert with_reason(PointsReason.REVERSE_MENTORING) == {Badge.FIRST_REVERSE_MENTORSHIP}
    assert with_reason(PointsReason.CIRCLE_LED) == {Badge.CIRCLE_HOST}
    assert with_reason(PointsReason.TALK_GIVEN) == {Badge.SPEAKER}
    assert with_reason(PointsReason.ADVISORY_BOARD_SERVICE) == {Badge.ADVISORY_BOARD_MEMBER}
    assert with_reason(PointsReason.OFFICE_HOURS_HOSTED, RULES.office_hours_regular - 1) == set()
    assert with_reason(PointsReason.OFFICE_HOURS_HOSTED, RULES.office_hours_regular) == {
        Badge.OFFICE_HOURS_REGULAR
    }


def test_highly_rated_needs_a_high_average_over_enough_ratings() -> None:
    few = Totals(rating_sum=5 * 4, rating_count=4)
    enough = Totals(rating_sum=23, rating_count=5)
    middling = Totals(rating_sum=22, rating_count=5)
    assert Badge.HIGHLY_RATED not in earned_badges(few, RULES)
    assert Badge.HIGHLY_RATED in earned_badges(enough, RULES)
    assert Badge.HIGHLY_RATED not in earned_badges(middling, RULES)
    assert "4.5" in earned_badges(enough, RULES)[Badge.HIGHLY_RATED]


def standing(person: str, points: int, programme: str | None = None) -> dict[str, Any]:
    values = {"points": points, "sessions": 1, "rating_sum": 0, "rating_count": 0}
    return {"_id": person, **values, "programmes": {programme: values} if programme else {}}


def test_boards_rank_everyone_and_each_team_and_programme_separately() -> None:
    docs = [standing("ana", 30, "onboarding"), standing("ben", 20, "onboarding"), standing("cy", 50)]
    teams = {"ana": "platform", "ben": "data", "cy": "platform"}
    result = boards(docs, teams, limit=10)
    assert [s.person_id for s in result[EVERY_PROGRAMME]] == ["cy", "ana", "ben"]
    assert [s.person_id for s in result["team:platform"]] == ["cy", "ana"]
    assert [s.person_id for s in result["programme:onboarding"]] == ["ana", "ben"]
    assert [s.person_id for s in boards(docs, teams, limit=1)[EVERY_PROGRAMME]] == ["cy"]


def test_someone_whose_points_were_all_reversed_leaves_the_board() -> None:
    assert rank([("gone", Totals()), ("here", Totals(points=3))], 10)[0].person_id == "here"
    assert len(rank([("gone", Totals()), ("here", Totals(points=3))], 10)) == 1
