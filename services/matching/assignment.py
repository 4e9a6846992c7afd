"""The optimal cohort assignment: every waiting mentee at most one mentor, no mentor beyond
capacity, the total score as high as it can be.

It is a min-cost flow: source → mentee (1 unit) → mentor (one arc per candidate pair,
cost −score) → sink (the mentor's free capacity), plus a zero-cost bypass from source to
sink, so a mentee with no worthwhile candidate is left for the waitlist instead of being
forced onto a poor match. Scores are scaled to integers because the solver works in
integers; the scale keeps six decimals, well below any difference that matters.

With ``fairness`` above zero, the k-th mentee of a mentor costs ``fairness × k`` more, a
convex penalty that spreads mentees over mentors instead of filling the most popular first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from ortools.graph.python import min_cost_flow

SCALE = 1_000_000


@dataclass(frozen=True)
class Edge:
    mentee_id: str
    mentor_id: str
    score: float


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
    edges: Sequence[Edge],
    *,
    fairness: float = 0.0,
) -> Assignment:
    """The assignment that maximises the total score (minus the fairness penalty)."""
    mentee_index = {m: i for i, m in enumerate(dict.fromkeys(mentee_ids))}
    mentors = [m for m, c in capacities.items() if c > 0]
    mentor_index = {m: len(mentee_index) + i for i, m in enumerate(mentors)}
    source = len(mentee_index) + len(mentors)
    sink = source + 1
    # Cohort rounds pass millions of edges: the arcs are built as arrays, not one by one.
    tails = np.fromiter((mentee_index.get(e.mentee_id, -1) for e in edges), dtype=np.int64, count=len(edges))
    heads = np.fromiter((mentor_index.get(e.mentor_id, -1) for e in edges), dtype=np.int64, count=len(edges))
    scores = np.fromiter((e.score for e in edges), dtype=np.float64, count=len(edges))
    usable = np.flatnonzero((tails >= 0) & (heads >= 0) & (scores > 0))

    mentee_nodes = np.arange(len(mentee_index), dtype=np.int64)
    mentor_nodes = np.arange(len(mentee_index), source, dtype=np.int64)
    mentor_caps = np.array([capacities[m] for m in mentors], dtype=np.int64)
    if fairness > 0:
        # One unit arc per seat, the k-th costing fairness × k.
        seat_mentor = np.repeat(mentor_nodes, mentor_caps)
        seat_rank = np.arange(len(seat_mentor)) - np.repeat(np.cumsum(mentor_caps) - mentor_caps, mentor_caps)
        to_sink = (
            seat_mentor,
            np.ones(len(seat_mentor), dtype=np.int64),
            _integer_cost((fairness * seat_rank).astype(np.float64)),
        )
    else:
        to_sink = (mentor_nodes, mentor_caps, np.zeros(len(mentors), dtype=np.int64))
    starts = np.concatenate([np.full(len(mentee_nodes), source), tails[usable], to_sink[0], [source]])
    ends = np.concatenate([mentee_nodes, heads[usable], np.full(len(to_sink[0]), sink), [sink]])
    caps = np.concatenate(
        [np.ones(len(mentee_nodes) + len(usable), dtype=np.int64), to_sink[1], [len(mentee_index)]]
    )
    costs = np.concatenate(
        [np.zeros(len(mentee_nodes), dtype=np.int64), -_integer_cost(scores[usable]), to_sink[2], [0]]
    )

    flow = min_cost_flow.SimpleMinCostFlow()
    flow.add_arcs_with_capacity_and_unit_cost(
        starts.astype(np.int64), ends.astype(np.int64), caps.astype(np.int64), costs.astype(np.int64)
    )
    supplies = np.zeros(sink + 1, dtype=np.int64)
    supplies[source], supplies[sink] = len(mentee_index), -len(mentee_index)
    flow.set_nodes_supplies(np.arange(sink + 1, dtype=np.int64), supplies)
    status = flow.solve()
    if status != flow.OPTIMAL:
        raise SolverFailed(f"min-cost flow ended with status {status}")

    pair_arcs = np.arange(len(mentee_nodes), len(mentee_nodes) + len(usable), dtype=np.int64)
    used = flow.flows(pair_arcs) if len(usable) else np.array([], dtype=np.int64)
    pairs = tuple(edges[i] for i in usable[used > 0].tolist())
    matched = {edge.mentee_id for edge in pairs}
    return Assignment(pairs=pairs, unmatched=tuple(m for m in mentee_index if m not in matched))


def _integer_cost(values: NDArray[np.float64]) -> NDArray[np.int64]:
    """Scores in integer millionths, rounded half to even as Python's round() does."""
    return np.rint(values * SCALE).astype(np.int64)
