"""A personal advisory board: mentors who each cover a different goal, chosen together."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import combinations, permutations
from random import Random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.programmes import DEFAULT_PROGRAMMES
from services.matching.boards import BoardSeatChoice, choose_board
from services.matching.candidates import Candidate
from services.matching.scoring import Ranked, Score, rank_mentors
from tests.support.builders import candidate

ADVISORY_BOARD = next(p for p in DEFAULT_PROGRAMMES if p.programme_id == "advisory-board")
GOALS = ("python", "kafka", "leadership", "design", "sql")


def mentee(*goals: str) -> Candidate:
    return candidate("ME", goals=frozenset(goals), level_rank=1)


def ranked(person_id: str, score: float, **skills: float) -> Ranked:
    mentor = candidate(person_id, skills=skills, mentor_capacity=2, level_rank=4)
    return Ranked(mentor, Score(total=score, breakdown=()))


def seats_of(board: Sequence[BoardSeatChoice]) -> dict[str, str]:
    return {seat.mentor.person_id: seat.strength for seat in board}


def best_generalist_first(goals: frozenset[str], pool: Sequence[Ranked], seats: int) -> dict[str, str]:
    """The greedy board the issue warns against: the best-ranked mentor first, on their strongest
    goal still open."""
    board: dict[str, str] = {}
    for entry in pool:
        open_goals = sorted(
            (g for g in goals - set(board.values()) if g in entry.mentor.skills), reverse=True
        )
        if len(board) < seats and open_goals:
            board[entry.mentor.person_id] = max(open_goals, key=lambda g: entry.mentor.skills[g])
    return board


def test_a_generalist_is_put_where_no_specialist_can_go_so_every_goal_is_covered() -> None:
    generalist = ranked("G", 0.9, python=1.0, leadership=0.8)
    pythonista = ranked("P", 0.6, python=0.8)
    kafka_expert = ranked("K", 0.5, kafka=1.0)
    pool = [generalist, pythonista, kafka_expert]
    goals = mentee("python", "kafka", "leadership")

    # Greedy gives the generalist python, its strongest goal: nobody is left for leadership.
    assert best_generalist_first(goals.goals, pool, 3) == {"G": "python", "K": "kafka"}
    assert seats_of(choose_board(goals, pool)) == {"G": "leadership", "P": "python", "K": "kafka"}


def test_a_board_from_real_rankings_is_not_three_copies_of_the_best_generalist() -> None:
    someone = mentee("python", "kafka", "leadership")
    generalists = [
        candidate(
            f"G{i}",
            skills={"python": 1.0, "kafka": 0.8},
            mentor_capacity=2,
            level_rank=3,
            team="data",
            languages=frozenset({"en"}),
        )
        for i in range(3)
    ]
    leader = candidate("L", skills={"leadership": 0.5}, mentor_capacity=2, level_rank=5)
    pool = rank_mentors(someone, [*generalists, leader], ADVISORY_BOARD, managers={}, declined=frozenset())
    assert [r.mentor.person_id for r in pool] == ["G0", "G1", "G2", "L"]

    board = choose_board(someone, pool)

    assert {seat.strength for seat in board} == {"python", "kafka", "leadership"}
    assert "L" in seats_of(board)
    assert all(seat.score == next(r.score for r in pool if r.mentor == seat.mentor) for seat in board)


def test_a_stronger_skill_wins_the_seat_over_a_better_overall_score() -> None:
    board = choose_board(mentee("python"), [ranked("A", 0.9, python=0.5), ranked("B", 0.4, python=1.0)])
    assert seats_of(board) == {"B": "python"}


def test_between_equally_skilled_mentors_the_better_score_wins() -> None:
    board = choose_board(mentee("python"), [ranked("A", 0.4, python=0.8), ranked("B", 0.7, python=0.8)])
    assert seats_of(board) == {"B": "python"}


def test_mentors_without_a_free_seat_are_skipped() -> None:
    pool = [ranked("A", 0.9, python=1.0), ranked("B", 0.4, python=0.5)]
    board = choose_board(mentee("python"), pool, has_room=lambda mentor_id: mentor_id != "A")
    assert seats_of(board) == {"B": "python"}


def test_room_is_asked_only_about_mentors_who_cover_a_goal() -> None:
    asked: list[str] = []

    def has_room(mentor_id: str) -> bool:
        asked.append(mentor_id)
        return True

    choose_board(
        mentee("python"), [ranked("A", 0.9, sql=1.0), ranked("B", 0.4, python=0.5)], has_room=has_room
    )
    assert asked == ["B"]


def test_fewer_seats_are_filled_when_fewer_goals_can_be_covered() -> None:
    pool = [ranked("A", 0.9, python=1.0), ranked("B", 0.8, python=0.9), ranked("C", 0.7, kafka=0.5)]
    board = choose_board(mentee("python", "kafka", "leadership"), pool)
    assert seats_of(board) == {"A": "python", "C": "kafka"}


def test_the_number_of_seats_is_configurable() -> None:
    pool = [ranked(g.upper(), 0.5, **{g: 1.0}) for g in GOALS]
    assert len(choose_board(mentee(*GOALS), pool, seats=5)) == 5
    assert len(choose_board(mentee(*GOALS), pool, seats=2)) == 2
    assert choose_board(mentee(*GOALS), pool, seats=0) == []
    with pytest.raises(ValueError, match="seats"):
        choose_board(mentee(*GOALS), pool, seats=-1)


def test_a_mentee_without_goals_gets_no_board() -> None:
    assert choose_board(mentee(), [ranked("A", 0.9, python=1.0)]) == []


def test_the_board_reads_best_pair_score_first() -> None:
    pool = [ranked("A", 0.3, python=1.0), ranked("B", 0.8, kafka=1.0), ranked("C", 0.5, sql=1.0)]
    board = choose_board(mentee("python", "kafka", "sql"), pool)
    assert [seat.mentor.person_id for seat in board] == ["B", "C", "A"]


# Invariants over random pools, against an exhaustive search.

scores = st.integers(0, 20).map(lambda n: n / 20)
skill_weights = st.sampled_from([0.5, 0.8, 1.0])


@st.composite
def pools(draw: st.DrawFn) -> tuple[Candidate, list[Ranked], int, frozenset[str]]:
    goals = draw(st.frozensets(st.sampled_from(GOALS), max_size=4))
    size = draw(st.integers(0, 6))
    pool = [
        ranked(
            f"M{index}",
            draw(scores),
            **draw(st.dictionaries(st.sampled_from(GOALS), skill_weights, max_size=3)),
        )
        for index in range(size)
    ]
    full = draw(st.frozensets(st.sampled_from([f"M{index}" for index in range(max(size, 1))])))
    return mentee(*goals), pool, draw(st.integers(1, 4)), full


def every_board(goals: frozenset[str], pool: Sequence[Ranked], seats: int) -> Iterator[dict[str, str]]:
    """Every assignment of distinct goals to distinct mentors who have them, up to ``seats``."""
    for size in range(min(seats, len(goals), len(pool)) + 1):
        for chosen_goals in combinations(sorted(goals), size):
            for mentors in permutations(pool, size):
                pairs = list(zip(mentors, chosen_goals, strict=True))
                if all(goal in entry.mentor.skills for entry, goal in pairs):
                    yield {entry.mentor.person_id: goal for entry, goal in pairs}


def quality(board: dict[str, str], pool: Sequence[Ranked]) -> tuple[int, float, float]:
    """Coverage, then skill on the covered goals, then pair scores (rounded: float sums)."""
    by_id = {entry.mentor.person_id: entry for entry in pool}
    skill = sum(by_id[m].mentor.skills[g] for m, g in board.items())
    fit = sum(by_id[m].score.total for m in board)
    return len(board), round(skill, 9), round(fit, 9)


@settings(deadline=None)
@given(pools())
def test_every_seat_has_its_own_mentor_and_its_own_goal_which_the_mentor_has(
    case: tuple[Candidate, list[Ranked], int, frozenset[str]],
) -> None:
    someone, pool, seats, full = case
    board = choose_board(someone, pool, seats=seats, has_room=lambda mentor_id: mentor_id not in full)
    assert len(board) <= seats
    assert len({seat.mentor.person_id for seat in board}) == len(board)
    assert len({seat.strength for seat in board}) == len(board)
    for seat in board:
        assert seat.strength in someone.goals
        assert seat.strength in seat.mentor.skills
        assert seat.mentor.person_id not in full


@settings(deadline=None)
@given(pools())
def test_no_board_covers_more_goals_or_is_stronger_or_fits_better(
    case: tuple[Candidate, list[Ranked], int, frozenset[str]],
) -> None:
    someone, pool, seats, full = case
    board = choose_board(someone, pool, seats=seats, has_room=lambda mentor_id: mentor_id not in full)
    with_room = [entry for entry in pool if entry.mentor.person_id not in full]
    best = max(quality(b, with_room) for b in every_board(someone.goals, with_room, seats))
    assert quality(seats_of(board), with_room) == best


@settings(deadline=None)
@given(pools(), st.randoms(use_true_random=False))
def test_the_same_mentors_in_any_order_give_the_same_board(
    case: tuple[Candidate, list[Ranked], int, frozenset[str]], random: Random
) -> None:
    someone, pool, seats, _ = case
    shuffled = list(pool)
    random.shuffle(shuffled)
    assert choose_board(someone, shuffled, seats=seats) == choose_board(someone, pool, seats=seats)
