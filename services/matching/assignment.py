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
    usable = [e for e in edges if e.mentee_id in mentee_index and e.mentor_id in mentor_index and e.score > 0]

    starts: list[int] = []
    ends: list[int] = []
    caps: list[int] = []
    costs: list[int] = []

    def arc(start: int, end: int, capacity: int, cost: int) -> None:
        starts.append(start)
        ends.append(end)
        caps.append(capacity)
        costs.append(cost)

    for index in mentee_index.values():
        arc(source, index, 1, 0)
    first_pair_arc = len(starts)
    for edge in usable:
        arc(mentee_index[edge.mentee_id], mentor_index[edge.mentor_id], 1, -round(edge.score * SCALE))
    for mentor, node in mentor_index.items():
        capacity = capacities[mentor]
        if fairness > 0:
            for k in range(capacity):
                arc(node, sink, 1, round(fairness * k * SCALE))
        else:
            arc(node, sink, capacity, 0)
    arc(source, sink, len(mentee_index), 0)

    flow = min_cost_flow.SimpleMinCostFlow()
    flow.add_arcs_with_capacity_and_unit_cost(
        np.array(starts, dtype=np.int64),
        np.array(ends, dtype=np.int64),
        np.array(caps, dtype=np.int64),
        np.array(costs, dtype=np.int64),
    )
    supplies = np.zeros(sink + 1, dtype=np.int64)
    supplies[source], supplies[sink] = len(mentee_index), -len(mentee_index)
    flow.set_nodes_supplies(np.arange(sink + 1, dtype=np.int64), supplies)
    status = flow.solve()
    if status != flow.OPTIMAL:
        raise SolverFailed(f"min-cost flow ended with status {status}")

    pair_arcs = np.arange(first_pair_arc, first_pair_arc + len(usable), dtype=np.int64)
    used = flow.flows(pair_arcs) if len(usable) else np.array([], dtype=np.int64)
    pairs = tuple(edge for edge, units in zip(usable, used, strict=True) if units > 0)
    matched = {edge.mentee_id for edge in pairs}
    return Assignment(pairs=pairs, unmatched=tuple(m for m in mentee_index if m not in matched))
