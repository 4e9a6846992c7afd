"""The cohort assignment stays optimal on the round shapes that make solvers stumble: a
fairness penalty, mentors without capacity, mentees without a candidate, tied scores, and
seats that barely cover (or fall short of) the mentees."""

from __future__ import annotations

from collections import Counter

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment

from services.matching.assignment import Assignment, Edge, assign

Instance = tuple[list[str], dict[str, int], list[Edge], float]


def penalised_optimum(
    mentees: list[str], capacities: dict[str, int], edges: list[Edge], fairness: float
) -> float:
    """Reference optimum by the Hungarian method: one column per seat, the k-th seat of a
    mentor (from 0) worth its score less fairness × k, and one "stay unmatched" column per
    mentee worth 0. Pairs given twice count at their best score."""
    best: dict[tuple[str, str], float] = {}
    for e in edges:
        best[(e.mentee_id, e.mentor_id)] = max(best.get((e.mentee_id, e.mentor_id), 0.0), e.score)
    seats = [(mentor, rank) for mentor, capacity in capacities.items() for rank in range(capacity)]
    matrix = np.zeros((len(mentees), len(seats) + len(mentees)))
    for i, mentee in enumerate(mentees):
        for j, (mentor, rank) in enumerate(seats):
            if (mentee, mentor) in best:
                matrix[i, j] = max(best[(mentee, mentor)] - fairness * rank, 0.0)
    rows, cols = linear_sum_assignment(matrix, maximize=True)
    return float(matrix[rows, cols].sum())


def loads_of(result: Assignment) -> Counter[str]:
    return Counter(pair.mentor_id for pair in result.pairs)


def penalised_total(result: Assignment, fairness: float) -> float:
    loads = loads_of(result)
    return result.total_score - fairness * sum(load * (load - 1) / 2 for load in loads.values())


@st.composite
def shaped_rounds(draw: st.DrawFn) -> Instance:
    mentees = [f"e{i}" for i in range(draw(st.integers(1, 8)))]
    # Capacities of 0 to 3: often fewer seats than mentees, sometimes just as many.
    capacities = {f"m{j}": draw(st.integers(0, 3)) for j in range(draw(st.integers(1, 4)))}
    # A handful of score levels, so that ties are common.
    levels = st.sampled_from([0.0, 0.25, 0.5, 0.5, 0.75, 0.9, 1.0])
    edges: list[Edge] = []
    for mentee in mentees[1:]:  # the first mentee never has a candidate
        for mentor in capacities:
            if draw(st.booleans()):
                edges.append(Edge(mentee, mentor, draw(levels)))
    twice: bool = draw(st.booleans())
    if edges and twice:
        edges.append(edges[draw(st.integers(0, len(edges) - 1))])  # a pair handed over twice
    fairness = draw(st.sampled_from([0.0, 0.0, 0.1, 0.3, 0.6]))
    return mentees, capacities, edges, fairness


@settings(max_examples=300, deadline=None)
@given(instance=shaped_rounds())
def test_the_assignment_reaches_the_penalised_optimum_on_awkward_round_shapes(instance: Instance) -> None:
    mentees, capacities, edges, fairness = instance
    result = assign(mentees, capacities, edges, fairness=fairness)

    assert (
        abs(penalised_total(result, fairness) - penalised_optimum(mentees, capacities, edges, fairness))
        < 1e-6
    )


@settings(max_examples=300, deadline=None)
@given(instance=shaped_rounds())
def test_no_mentor_is_overfilled_no_mentee_placed_twice_and_only_given_pairs_are_used(
    instance: Instance,
) -> None:
    mentees, capacities, edges, fairness = instance
    result = assign(mentees, capacities, edges, fairness=fairness)

    assert all(load <= capacities[mentor] for mentor, load in loads_of(result).items())
    placed = [pair.mentee_id for pair in result.pairs]
    assert len(placed) == len(set(placed))
    assert sorted(placed + list(result.unmatched)) == sorted(mentees)
    assert all(pair in edges and pair.score > 0 for pair in result.pairs)
    assert mentees[0] in result.unmatched
