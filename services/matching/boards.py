"""A personal advisory board: for one mentee, a few mentors who each cover a different one of the
mentee's goals, chosen together.

Taking the best-ranked mentor first and giving them their strongest goal goes wrong in two ways:
a generalist takes the goal that only a specialist could have covered, and the goals left over
find nobody. So the board is one optimisation over all seats at once: a matching between the
mentee's goals and the mentors who have them as skills, with at most ``seats`` pairs, that is the
best by, in order:

1. the number of goals covered (one per seat, so also the number of seats filled);
2. the sum of each mentor's skill weight on the goal they cover;
3. the sum of the mentors' pair scores.

It is solved exactly as a min-cost flow: source → goal (one unit each) → mentor (one arc per goal
the mentor has as a skill) → sink (one unit each), at most ``seats`` units in all, with a free
bypass from source to sink so that fewer seats are filled when no more goals can be covered. The
three criteria are packed into one integer cost, their units set far enough apart that no total
of a lower criterion outweighs one unit of a higher one. Arcs are laid out in the ranking's
order (best score first, ties by id), so equally good boards are told apart the same way on every
replica.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from ortools.graph.python import min_cost_flow

from services.matching.candidates import Candidate
from services.matching.scoring import Ranked, Score

# Scores are rounded to six decimals (see scoring.score); skill weights need no more.
SCALE = 1_000_000
# The solver works in 64-bit integers.
_LARGEST_COST = 2**62


@dataclass(frozen=True)
class BoardSeatChoice:
    mentor: Candidate
    strength: str
    """The mentee goal this mentor covers on the board."""
    score: Score
    """The pair's compatibility score, with its breakdown."""


class BoardSolverFailed(RuntimeError):
    pass


@dataclass(frozen=True)
class _Option:
    """One mentor able to cover one goal."""

    goal: str
    ranked: Ranked

    @property
    def mentor_id(self) -> str:
        return self.ranked.mentor.person_id

    # Both are clamped at zero, which the weighing in _Units relies on; in practice skill
    # weights are 0.5 to 1 and scores 0 to 1.

    @property
    def skill(self) -> int:
        return round(max(self.ranked.mentor.skills[self.goal], 0.0) * SCALE)

    @property
    def fit(self) -> int:
        return round(max(self.ranked.total, 0.0) * SCALE)


def choose_board(
    mentee: Candidate,
    ranked: Sequence[Ranked],
    *,
    seats: int = 3,
    has_room: Callable[[str], bool] = lambda mentor_id: True,
) -> list[BoardSeatChoice]:
    """The advisory board for ``mentee``: up to ``seats`` distinct mentors, each covering a
    distinct goal of the mentee, best pair score first.

    ``ranked`` are the mentors who may mentor the mentee, with their scores (``rank_mentors``);
    mentors for whom ``has_room`` is false are skipped. Fewer seats come back when fewer goals
    can be covered. See the module docstring for how the board is chosen.
    """
    if seats < 0:
        raise ValueError("a board cannot have fewer than zero seats")
    options = _options(mentee, ranked, has_room)
    chosen = _best_matching(options, seats)
    # Options are in ranking order, so the board reads best pair first.
    return [
        BoardSeatChoice(mentor=o.ranked.mentor, strength=o.goal, score=o.ranked.score)
        for index, o in enumerate(options)
        if index in chosen
    ]


def _options(mentee: Candidate, ranked: Sequence[Ranked], has_room: Callable[[str], bool]) -> list[_Option]:
    """Every (goal, mentor) pair the board could use: in ranking order, each mentor once."""
    options: list[_Option] = []
    seen: set[str] = {mentee.person_id}
    for entry in sorted(ranked, key=lambda r: (-r.total, r.mentor.person_id)):
        mentor_id = entry.mentor.person_id
        goals = sorted(mentee.goals & entry.mentor.skills.keys())
        # has_room may be a lookup, so it is asked only about mentors the board could use.
        if mentor_id in seen or not goals or not has_room(mentor_id):
            continue
        seen.add(mentor_id)
        options.extend(_Option(goal, entry) for goal in goals)
    return options


@dataclass(frozen=True)
class _Units:
    """Integer weights that make one cost rank boards by coverage, then skill, then score."""

    skill: int
    cover: int

    @classmethod
    def for_board(cls, options: Sequence[_Option], fillable: int) -> _Units:
        most_fit = max(o.fit for o in options)
        most_skill = max(o.skill for o in options)
        # A seat's skill unit outweighs the fit of a whole board, and a covered goal outweighs
        # the skill and fit of a whole board.
        skill = fillable * most_fit + 1
        cover = fillable * (most_skill * skill + most_fit) + 1
        if fillable * (cover + most_skill * skill + most_fit) >= _LARGEST_COST:
            raise ValueError(f"{fillable} seats are too many to weigh exactly")
        return cls(skill=skill, cover=cover)

    def value(self, option: _Option) -> int:
        return self.cover + option.skill * self.skill + option.fit


def _best_matching(options: Sequence[_Option], seats: int) -> set[int]:
    """The positions in ``options`` of the best board (see the module docstring), found by
    min-cost flow."""
    goals = sorted({o.goal for o in options})
    mentors = list(dict.fromkeys(o.mentor_id for o in options))
    fillable = min(seats, len(goals), len(mentors))
    if fillable == 0:
        return set()
    units = _Units.for_board(options, fillable)
    goal_node = {goal: index for index, goal in enumerate(goals)}
    mentor_node = {mentor_id: len(goals) + index for index, mentor_id in enumerate(mentors)}
    source = len(goals) + len(mentors)
    sink = source + 1

    arcs: list[tuple[int, int, int, int]] = [(source, node, 1, 0) for node in goal_node.values()]
    first_option_arc = len(arcs)
    arcs += [(goal_node[o.goal], mentor_node[o.mentor_id], 1, -units.value(o)) for o in options]
    arcs += [(node, sink, 1, 0) for node in mentor_node.values()]
    arcs.append((source, sink, fillable, 0))

    flow = min_cost_flow.SimpleMinCostFlow()
    starts, ends, capacities, costs = (np.array(column, dtype=np.int64) for column in zip(*arcs, strict=True))
    flow.add_arcs_with_capacity_and_unit_cost(starts, ends, capacities, costs)
    supplies = np.zeros(sink + 1, dtype=np.int64)
    supplies[source], supplies[sink] = fillable, -fillable
    flow.set_nodes_supplies(np.arange(sink + 1, dtype=np.int64), supplies)
    status = flow.solve()
    if status != flow.OPTIMAL:
        raise BoardSolverFailed(f"min-cost flow ended with status {status}")
    used = flow.flows(np.arange(first_option_arc, first_option_arc + len(options), dtype=np.int64))
    return {index for index, units_of_flow in enumerate(used) if units_of_flow > 0}
