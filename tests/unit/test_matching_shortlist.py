"""A cohort round's shortlists: the scalar rules and scores, for every mentee at once."""

from __future__ import annotations

import random
from dataclasses import replace
from functools import cache
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.profile import MatchingPreferences
from contracts.programmes import DEFAULT_PROGRAMMES, MatchingWeights, Programme
from services.matching.assignment import Edge, assign
from services.matching.candidates import MINUTES_PER_WEEK, Candidate
from services.matching.pairwise import build_round, score_pairs
from services.matching.pricing import Offers, auction
from services.matching.scoring import ineligibility, management_chain, rank_mentors, score
from services.matching.shortlist import EXHAUSTIVE_PAIRS, _among_best, _Ranking, cohort_edges, shortlist
from tests.support.population import Organisation, organisation

CAREER = next(p for p in DEFAULT_PROGRAMMES if p.programme_id == "career-growth")
SKILLS = ("kafka", "sql", "go", "design", "writing")
OFFSETS = (-8.0, -3.5, 0.0, 1.0, 5.5, 5.75, 9.5, 12.0)


def person(person_id: str, **fields: Any) -> Candidate:
    base: dict[str, Any] = {
        "person_id": person_id,
        "active": True,
        "external": False,
        "level_rank": 2,
        "team": "payments",
        "manager_id": None,
        "utc_offset_hours": 1.0,
        "skills": {},
        "goals": frozenset(),
        "interests": frozenset(),
        "languages": frozenset({"en"}),
        "availability": (),
        "mentor_capacity": 0,
        "mentee": True,
        "preferences": MatchingPreferences(),
        "programmes": frozenset(),
    }
    return Candidate(**{**base, **fields})


def mentor(person_id: str, **fields: Any) -> Candidate:
    return person(
        person_id, **{"mentor_capacity": 2, "mentee": False, "level_rank": 4, "team": "data", **fields}
    )


# --- strategies: small pools with every feature the score and the rules look at ------------

on_grid = st.tuples(st.integers(0, 330), st.integers(1, 8)).map(
    lambda t: (t[0] * 30, min(t[0] * 30 + t[1] * 30, MINUTES_PER_WEEK))
)
anywhere = st.tuples(st.integers(0, MINUTES_PER_WEEK - 1), st.integers(0, 300)).map(
    lambda t: (t[0], min(t[0] + t[1], MINUTES_PER_WEEK))
)
availability = st.lists(st.one_of(on_grid, on_grid, anywhere), max_size=4).map(lambda x: tuple(sorted(x)))
preferences = st.builds(
    MatchingPreferences,
    external_mentor=st.booleans(),
    same_team_allowed=st.booleans(),
    max_time_zone_gap_hours=st.one_of(st.none(), st.integers(0, 12)),
)


@st.composite
def candidates(draw: st.DrawFn, person_id: str, *, mentoring: bool) -> Candidate:
    return person(
        person_id,
        active=draw(st.booleans()) or draw(st.booleans()),
        external=mentoring and draw(st.integers(0, 4)) == 0,
        level_rank=draw(st.one_of(st.none(), st.integers(0, 6))),
        team=draw(st.sampled_from([None, "data", "payments", "mobile"])),
        utc_offset_hours=draw(st.one_of(st.none(), st.sampled_from(OFFSETS))),
        skills=draw(
            st.dictionaries(st.sampled_from(SKILLS), st.sampled_from([0.5, 0.8, 1.0, 0.3]), max_size=4)
        )
        if mentoring
        else {},
        goals=draw(st.frozensets(st.sampled_from((*SKILLS, "cooking")), max_size=4)),
        languages=draw(st.frozensets(st.sampled_from(["en", "de", "ja"]), max_size=2)),
        availability=draw(availability),
        mentor_capacity=draw(st.integers(0, 3)) if mentoring else 0,
        preferences=draw(preferences),
    )


weights = st.builds(
    MatchingWeights,
    skill_coverage=st.floats(0, 5),
    seniority_gap=st.floats(0, 5),
    availability_overlap=st.floats(0, 5),
    shared_language=st.floats(0, 5),
    cross_team=st.floats(0.01, 5),
)


@st.composite
def rounds(
    draw: st.DrawFn,
) -> tuple[list[Candidate], list[Candidate], Programme, dict[str, str | None], frozenset[tuple[str, str]]]:
    ids = [f"P{i}" for i in range(12)]
    mentee_ids = draw(st.lists(st.sampled_from(ids), min_size=1, max_size=7, unique=True))
    mentor_ids = draw(st.lists(st.sampled_from(ids), min_size=1, max_size=7, unique=True))
    mentees = [draw(candidates(i, mentoring=False)) for i in mentee_ids]
    mentors = [draw(candidates(i, mentoring=True)) for i in mentor_ids]
    # Managers may form chains and cycles, and reach people outside the round.
    managers = draw(
        st.dictionaries(
            st.sampled_from([*ids, "X1", "X2"]), st.one_of(st.none(), st.sampled_from([*ids, "X1"]))
        )
    )
    declined = draw(
        st.frozensets(st.tuples(st.sampled_from(mentor_ids), st.sampled_from(mentee_ids)), max_size=3)
    )
    low = draw(st.integers(-3, 2))
    programme = CAREER.model_copy(
        update={
            "weights": draw(weights),
            "min_seniority_gap": low,
            "max_seniority_gap": low + draw(st.integers(0, 3)),
        }
    )
    return mentees, mentors, programme, managers, declined


Round_ = tuple[list[Candidate], list[Candidate], Programme, dict[str, str | None], frozenset[tuple[str, str]]]


# --- the shortlist is the scalar ranking -----------------------------------------------


@settings(max_examples=40, deadline=None)
@given(round_=rounds(), k=st.integers(1, 8))
def test_every_shortlisted_pair_is_eligible_and_scored_like_the_explained_score(
    round_: Round_, k: int
) -> None:
    mentees, mentors, programme, managers, declined = round_
    by_id = {m.person_id: m for m in mentors}
    for edge in shortlist(mentees, mentors, programme, managers=managers, declined=declined, k=k):
        mentee = next(m for m in mentees if m.person_id == edge.mentee_id)
        chosen = by_id[edge.mentor_id]
        assert ineligibility(chosen, mentee, managers=managers, declined=declined) is None
        assert edge.score == score(chosen, mentee, programme).total


@settings(max_examples=40, deadline=None)
@given(round_=rounds(), k=st.integers(1, 8))
def test_a_round_small_enough_to_score_every_pair_ranks_each_mentee_like_rank_mentors(
    round_: Round_, k: int
) -> None:
    mentees, mentors, programme, managers, declined = round_
    edges = shortlist(mentees, mentors, programme, managers=managers, declined=declined, k=k)
    for mentee in mentees:
        expected = [
            (r.mentor.person_id, r.score.total)
            for r in rank_mentors(mentee, mentors, programme, managers=managers, declined=declined, limit=k)
        ]
        assert [(e.mentor_id, e.score) for e in edges if e.mentee_id == mentee.person_id] == expected


@settings(max_examples=40, deadline=None)
@given(round_=rounds())
def test_the_total_a_mentor_is_ranked_by_is_the_total_their_proposal_explains(round_: Round_) -> None:
    mentees, mentors, programme, managers, declined = round_
    for mentee in mentees:
        for ranked in rank_mentors(mentee, mentors, programme, managers=managers, declined=declined):
            explained = score(ranked.mentor, mentee, programme)
            assert ranked.total == explained.total
            assert ranked.score == explained


@settings(max_examples=25, deadline=None)
@given(round_=rounds())
def test_pair_scores_and_verdicts_match_the_scalar_ones_for_every_pair(round_: Round_) -> None:
    mentees, mentors, programme, managers, declined = round_
    active = [m for m in mentees if m.active]
    able = [m for m in mentors if m.mentor]
    if not active or not able:
        return
    looked_up = build_round(active, able, programme, managers=managers, declined=declined)
    assert looked_up.coverage is not None
    e = np.repeat(np.arange(len(active)), len(able))
    m = np.tile(np.arange(len(able)), len(active))
    # Skill coverage from the round's table, and computed pair by pair as without one.
    for columns in (looked_up, replace(looked_up, coverage=None)):
        millionths, eligible = score_pairs(columns, e, m)
        for i, j, total, ok in zip(
            e.tolist(), m.tolist(), millionths.tolist(), eligible.tolist(), strict=True
        ):
            verdict = ineligibility(able[j], active[i], managers=managers, declined=declined)
            assert ok == (verdict is None)
            assert total / 1_000_000 == score(able[j], active[i], programme).total


def test_a_round_with_too_many_skill_levels_for_a_coverage_table_scores_pairs_exactly() -> None:
    levels = [round(0.3 + i / 1000, 3) for i in range(300)]
    mentors = [
        mentor(f"M{i}", skills={"kafka": level, "sql": levels[-1 - i]}) for i, level in enumerate(levels)
    ]
    mentees = [
        person("E1", goals=frozenset({"kafka", "sql"})),
        person("E2", goals=frozenset({"sql", "cooking"})),
    ]
    columns = build_round(mentees, mentors, CAREER, managers={}, declined=frozenset())
    assert columns.coverage is None  # 301 codes on each of two goals: more combinations than the limit
    e = np.repeat(np.arange(len(mentees)), len(mentors))
    m = np.tile(np.arange(len(mentors)), len(mentees))
    millionths, _ = score_pairs(columns, e, m)
    expected = [
        score(mentors[j], mentees[i], CAREER).total for i, j in zip(e.tolist(), m.tolist(), strict=True)
    ]
    assert (millionths / 1_000_000).tolist() == expected


def test_management_chains_longer_than_the_scalar_limit_or_looping_rule_out_the_same_pairs() -> None:
    ids = [f"M{i}" for i in range(60)]
    managers: dict[str, str | None] = {ids[i]: ids[i + 1] for i in range(59)}
    managers |= {"E": "M0", "LOOP-A": "LOOP-B", "LOOP-B": "LOOP-A"}
    mentees = [person("E"), person("LOOP-A")]
    mentors = [mentor(i) for i in (*ids, "LOOP-B")]
    edges = shortlist(mentees, mentors, CAREER, managers=managers, declined=frozenset(), k=100)
    for mentee in mentees:
        chain = set(management_chain(mentee.person_id, managers))
        offered = {e.mentor_id for e in edges if e.mentee_id == mentee.person_id}
        assert offered == {m.person_id for m in mentors} - chain
    assert "M49" not in {e.mentor_id for e in edges if e.mentee_id == "E"}
    assert "M50" in {e.mentor_id for e in edges if e.mentee_id == "E"}  # beyond the 50 looked at


def test_the_shortlist_is_the_same_whatever_order_the_mentors_come_in() -> None:
    mentees = [person(f"E{i}", goals=frozenset({"sql"})) for i in range(3)]
    mentors = [mentor(f"M{i}", skills={"sql": 1.0}) for i in range(8)]  # all tied
    first = shortlist(mentees, mentors, CAREER, managers={}, declined=frozenset(), k=3)
    shuffled = list(mentors)
    random.Random(7).shuffle(shuffled)
    again = shortlist(mentees, shuffled, CAREER, managers={}, declined=frozenset(), k=3)
    assert first == again
    assert [e.mentor_id for e in first if e.mentee_id == "E0"] == ["M0", "M1", "M2"]


def test_inactive_mentees_and_mentors_without_capacity_take_no_part() -> None:
    edges = shortlist(
        [person("AWAY", active=False), person("HERE")],
        [mentor("FULL", mentor_capacity=0), mentor("FREE")],
        CAREER,
        managers={},
        declined=frozenset(),
        k=5,
    )
    assert [(e.mentee_id, e.mentor_id) for e in edges] == [("HERE", "FREE")]
    assert shortlist([person("HERE")], [mentor("FREE")], CAREER, managers={}, declined=frozenset(), k=0) == []


# --- large rounds: candidates generated, not every pair scored ------------------------------


@cache
def large_organisation() -> Organisation:
    """Big enough that candidates are generated rather than every pair scored."""
    return organisation(1_600, 1_400, seed=5)


def test_a_round_too_large_to_score_every_pair_still_gives_every_mentee_exactly_scored_candidates() -> None:
    org = large_organisation()
    assert len(org.mentees) * len(org.mentors) > EXHAUSTIVE_PAIRS
    edges = shortlist(org.mentees, org.mentors, CAREER, managers=org.managers, declined=org.declined, k=6)
    per_mentee: dict[str, list[Edge]] = {}
    for edge in edges:
        per_mentee.setdefault(edge.mentee_id, []).append(edge)
    assert len(per_mentee) == len(org.mentees)  # mentees without goals too
    assert all(len(found) == 6 for found in per_mentee.values())
    mentors = {m.person_id: m for m in org.mentors}
    mentees = {m.person_id: m for m in org.mentees}
    for edge in random.Random(3).sample(edges, 400):
        chosen, mentee = mentors[edge.mentor_id], mentees[edge.mentee_id]
        assert ineligibility(chosen, mentee, managers=org.managers, declined=org.declined) is None
        assert edge.score == score(chosen, mentee, CAREER).total
    best_first = all(
        [e.score for e in found] == sorted((e.score for e in found), reverse=True)
        for found in per_mentee.values()
    )
    assert best_first


def test_generated_candidates_find_nearly_each_mentees_best_mentors() -> None:
    org = large_organisation()
    found = shortlist(org.mentees, org.mentors, CAREER, managers=org.managers, declined=org.declined, k=5)
    sample = org.mentees[:8]
    exact = {
        m.person_id: [
            r.score.total
            for r in rank_mentors(
                m, org.mentors, CAREER, managers=org.managers, declined=org.declined, limit=5
            )
        ]
        for m in sample
    }
    got = {m.person_id: [e.score for e in found if e.mentee_id == m.person_id] for m in sample}
    shortfall = sum(sum(exact[i]) - sum(got[i]) for i in exact) / sum(sum(v) for v in exact.values())
    assert shortfall < 0.01


# --- the round's edges: priced alternatives ---------------------------------------------


def test_priced_edges_let_mentees_who_all_want_the_same_mentor_reach_the_others() -> None:
    mentees = [person(f"E{i}", goals=frozenset({"sql"})) for i in range(3)]
    mentors = [
        mentor("STAR", skills={"sql": 1.0}, mentor_capacity=1),
        mentor("GOOD", skills={"sql": 0.8}, mentor_capacity=1),
        mentor("FAIR", skills={"sql": 0.5}, mentor_capacity=1),
    ]
    seats = {m.person_id: 1 for m in mentors}
    best_only = shortlist(mentees, mentors, CAREER, managers={}, declined=frozenset(), k=1)
    both = cohort_edges(
        mentees, mentors, CAREER, managers={}, declined=frozenset(), capacities=seats, best=1, priced=1
    )
    assert len(assign([m.person_id for m in mentees], seats, best_only).pairs) == 1
    assert len(assign([m.person_id for m in mentees], seats, both).pairs) == 3
    assert set(best_only) <= set(both.edges())


def test_the_auction_prices_a_contested_mentor_and_leaves_one_with_seats_to_spare_free() -> None:
    mentee = np.array([0, 0, 1, 1, 2, 2], dtype=np.int64)
    chosen = np.array([0, 1, 0, 1, 0, 1], dtype=np.int64)
    value = np.array([900_000, 500_000, 800_000, 500_000, 700_000, 500_000], dtype=np.int64)
    seats = np.array([1, 5], dtype=np.int64)
    outcome = auction(Offers.of(mentee, chosen, value, seats, 3), seats)
    assert outcome.price[0] > 0
    assert outcome.price[1] == 0
    assert outcome.open_seats.tolist() == [False, True]
    assert not outcome.unseated.any()


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    owners=st.integers(1, 40),
    pairs=st.integers(0, 2_000),
    keep=st.integers(1, 30),
    spread=st.sampled_from([3, 1_000, 1_000_016]),
)
def test_the_pool_a_round_prices_keeps_every_owners_best_pairs_and_ties_with_the_last(
    seed: int, owners: int, pairs: int, keep: int, spread: int
) -> None:
    rng = np.random.default_rng(seed)
    owner = rng.integers(0, owners, size=pairs)
    score = rng.integers(0, spread, size=pairs)
    kept = _among_best(owner, score, owners, keep)
    for who in range(owners):
        mine = np.sort(score[owner == who])[::-1]
        if len(mine) == 0:
            continue
        cut = mine[min(keep, len(mine)) - 1]
        assert kept[(owner == who) & (score >= cut)].all()
        assert kept[owner == who].sum() >= min(keep, len(mine))


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    owners=st.integers(1, 40),
    others=st.integers(1, 60),
    pairs=st.integers(0, 2_000),
    depth=st.integers(1, 30),
    spread=st.sampled_from([3, 1_000, 1_000_016]),
)
def test_a_ranking_that_sorts_only_each_owners_best_gives_the_same_tops_as_one_that_sorts_all(
    seed: int, owners: int, others: int, pairs: int, depth: int, spread: int
) -> None:
    rng = np.random.default_rng(seed)
    keys = np.unique(rng.integers(0, owners * others, size=pairs))
    owner, other = keys // others, keys % others
    score = rng.integers(0, spread, size=len(keys))
    only = rng.random(owners) < 0.5
    every = _Ranking(owner, other, score, others)
    shallow = _Ranking(owner, other, score, others, depth=(owners, depth))
    for limit in {1, depth // 2, depth} - {0}:
        assert shallow.top(limit).tolist() == every.top(limit).tolist()
        assert shallow.top(limit, only=only).tolist() == every.top(limit, only=only).tolist()
    with pytest.raises(ValueError, match="deep"):
        shallow.top(depth + 1)
