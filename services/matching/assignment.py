"""The optimal cohort assignment: every waiting mentee at most one mentor, no mentor beyond
capacity, the total score as high as it can be.

It is a min-cost flow: source → mentee (1 unit) → mentor (one arc per candidate pair,
cost −score) → sink (the mentor's free capacity), plus a zero-cost bypass from source to
sink, so a mentee with no worthwhile candidate is left for the waitlist instead of being
forced onto a poor match. Scores are scaled to integers because the solver works in
integers; the scale keeps six decimals, well below any difference that matters.

With ``fairness`` above zero, the k-th mentee of a mentor costs ``fairness × k`` more, a
convex penalty that spreads mentees over mentors instead of filling the most popular first.

Cohort rounds hand over hundreds of thousands of candidate pairs, so pairs travel as
columns (``EdgeTable``) and only the chosen ones become ``Edge`` objects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from ortools.graph.python import min_cost_flow

SCALE = 1_000_000
Ints = NDArray[np.int64]


@dataclass(frozen=True)
class Edge:
    mentee_id: str
    mentor_id: str
    score: float


@dataclass(frozen=True)
class EdgeTable:
    """Candidate pairs as columns: ``mentee[i]`` indexes ``mentee_ids``, ``mentor[i]``
    indexes ``mentor_ids``, ``score[i]`` is the pair's score in millionths."""

    mentee_ids: Sequence[str]
    mentor_ids: Sequence[str]
    mentee: Ints
    mentor: Ints
    score: Ints

    @staticmethod
    def of(edges: Sequence[Edge]) -> EdgeTable:
        mentee_ids = list(dict.fromkeys(e.mentee_id for e in edges))
        mentor_ids = list(dict.fromkeys(e.mentor_id for e in edges))
        mentee_row = {m: i for i, m in enumerate(mentee_ids)}
        mentor_row = {m: i for i, m in enumerate(mentor_ids)}
        return EdgeTable(
            mentee_ids,
            mentor_ids,
            np.array([mentee_row[e.mentee_id] for e in edges], dtype=np.int64),
            np.array([mentor_row[e.mentor_id] for e in edges], dtype=np.int64),
            _integer_cost(np.array([e.score for e in edges], dtype=np.float64)),
        )

    def __len__(self) -> int:
        return len(self.mentee)

    def edge(self, at: int) -> Edge:
        return Edge(
            self.mentee_ids[int(self.mentee[at])],
            self.mentor_ids[int(self.mentor[at])],
            int(self.score[at]) / SCALE,
        )

    def edges(self) -> list[Edge]:
        return [self.edge(at) for at in range(len(self))]


@dataclass(frozen=True)
class Assignment:
    pairs: tuple[Edge, ...]
    unmatched: tuple[str, ...]

    @property
    def total_score(self) -> float:
        return sum(edge.score for edge in self.pairs)


class SolverFailed(RuntimeError):
    pass


def assign(
    mentee_ids: Sequence[str],
    capacities: Mapping[str, int],
    edges: Sequence[Edge] | EdgeTable,
    *,
    fairness: float = 0.0,
) -> Assignment:
    """The assignment that maximises the total score (minus the fairness penalty). Edges of
    mentees not in ``mentee_ids`` or mentors without capacity are ignored."""
    table = edges if isinstance(edges, EdgeTable) else EdgeTable.of(edges)
    wanted = list(dict.fromkeys(mentee_ids))
    mentee_row = {m: i for i, m in enumerate(wanted)}
    # Each table row's place among the wanted mentees, or -1.
    place = np.array([mentee_row.get(m, -1) for m in table.mentee_ids], dtype=np.int64)
    capacity = np.array([max(0, capacities.get(m, 0)) for m in table.mentor_ids], dtype=np.int64)
    tails = place[table.mentee] if len(table) else np.zeros(0, dtype=np.int64)
    usable = np.flatnonzero((tails >= 0) & (capacity[table.mentor] > 0) & (table.score > 0))
    arcs = (tails[usable], table.mentor[usable], table.score[usable])
    chosen = usable[optimal_arcs(len(wanted), capacity, *arcs, fairness=fairness)]
    if isinstance(edges, EdgeTable):
        pairs = tuple(table.edge(at) for at in chosen.tolist())
    else:
        pairs = tuple(edges[at] for at in chosen.tolist())
    matched = {edge.mentee_id for edge in pairs}
    return Assignment(pairs=pairs, unmatched=tuple(m for m in wanted if m not in matched))


def optimal_arcs(
    mentees: int, capacity: Ints, mentee: Ints, mentor: Ints, score: Ints, *, fairness: float = 0.0
) -> Ints:
    """Which of the arcs (mentee row, mentor row, score in millionths) the optimal
    assignment uses, as indices; rows are below ``mentees`` and ``len(capacity)``."""
    mentors = len(capacity)
    source, sink = mentees + mentors, mentees + mentors + 1
    mentor_nodes = mentees + np.arange(mentors, dtype=np.int64)
    if fairness > 0:
        # One unit arc per seat, the k-th costing fairness × k.
        seat_mentor = np.repeat(mentor_nodes, capacity)
        seat_rank = np.arange(len(seat_mentor)) - np.repeat(np.cumsum(capacity) - capacity, capacity)
        to_sink = (
            seat_mentor,
            np.ones(len(seat_mentor), dtype=np.int64),
            _integer_cost((fairness * seat_rank).astype(np.float64)),
        )
    else:
        to_sink = (mentor_nodes, capacity, np.zeros(mentors, dtype=np.int64))
    starts = np.concatenate([np.full(mentees, source), mentee, to_sink[0], [source]])
    ends = np.concatenate([np.arange(mentees), mentees + mentor, np.full(len(to_sink[0]), sink), [sink]])
    caps = np.concatenate([np.ones(mentees + len(mentee), dtype=np.int64), to_sink[1], [mentees]])
    costs = np.concatenate([np.zeros(mentees, dtype=np.int64), -score, to_sink[2], [0]])

    flow = min_cost_flow.SimpleMinCostFlow()
    flow.add_arcs_with_capacity_and_unit_cost(
        starts.astype(np.int64), ends.astype(np.int64), caps.astype(np.int64), costs.astype(np.int64)
    )
    supplies = np.zeros(sink + 1, dtype=np.int64)
    supplies[source], supplies[sink] = mentees, -mentees
    flow.set_nodes_supplies(np.arange(sink + 1, dtype=np.int64), supplies)
    status = flow.solve()
    if status != flow.OPTIMAL:
        raise SolverFailed(f"min-cost flow ended with status {status}")
    if len(mentee) == 0:
        return np.zeros(0, dtype=np.int64)
    used = flow.flows(np.arange(mentees, mentees + len(mentee), dtype=np.int64))
    return np.flatnonzero(used > 0).astype(np.int64)


def _integer_cost(values: NDArray[np.float64]) -> NDArray[np.int64]:
    """Scores in integer millionths, rounded half to even as Python's round() does."""
    return np.rint(values * SCALE).astype(np.int64)
