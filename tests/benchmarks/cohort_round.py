"""`make bench`: a cohort round for large cohorts, beside a reference run in the same process
on the same people.

    python -m tests.benchmarks.cohort_round [--sizes small|large|both] [--programme ID]

*Ours* is what the matching service does for a round, timed from the candidates' profile
features to the assignment: ``shortlist.cohort_edges`` (candidate generation, exact scores,
each mentee's best mentors and its best ones at auction seat prices) then
``assignment.assign`` (min-cost flow over those edges).

*The reference*:

- small (10,000 mentees, 2,500 mentors of capacity 4): all 25 million pairs scored exactly
  and OR-Tools min-cost flow over the full bipartite graph, which is the exact optimum;
- large (100,000 and 25,000): the full graph (2.5 billion arcs) fits neither memory nor the
  time of a benchmark, so the optimum is bracketed instead. From below: the optimal
  assignment over a much richer candidate set (each mentee's 32 and each mentor's 64 best of
  the pairs retrieval weighs). From above, by linear-programming duality: with that
  assignment's seat prices ``v`` (its duals), no assignment of all pairs can score more than
  ``Σ_mentee max(0, max_mentor(score - v)) + Σ_mentor capacity × v``, the inner maximum
  over every one of the 2.5 billion pairs (computed in blocks, from an over-estimate of each
  score so that the bound stays one). Ours over that bound is a lower bound on our share of
  the optimum; the small run prints the same bracket beside the exact optimum.
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray
from ortools.graph.python import min_cost_flow

from contracts.programmes import DEFAULT_PROGRAMMES, Programme
from services.matching import pairwise as pw
from services.matching.assignment import Assignment, assign
from services.matching.pairwise import DECIMALS, Round, build_round, score_pairs, slot_matrix
from services.matching.retrieval import candidate_pairs
from services.matching.scoring import NEUTRAL, TARGET_OVERLAP_MINUTES
from services.matching.shortlist import cohort_edges
from tests.support.population import Organisation, organisation

SIZES = {"small": (10_000, 2_500), "large": (100_000, 25_000)}
CAPACITY = 4
BEST = 5  # each mentee's best mentors
PRICED = 5  # and its best at auction prices
T = TypeVar("T")
Ints = NDArray[np.int64]
Reals = NDArray[np.float32]


def timed(work: Callable[[], T]) -> tuple[T, float]:
    began = time.perf_counter()
    result = work()
    return result, time.perf_counter() - began


def our_round(org: Organisation, programme: Programme) -> tuple[Assignment, int, float]:
    """What the service does for a round: the assignment, the number of edges, seconds."""
    seats = {m.person_id: CAPACITY for m in org.mentors}

    def round_() -> tuple[Assignment, int]:
        edges = cohort_edges(
            org.mentees,
            org.mentors,
            programme,
            managers=org.managers,
            declined=org.declined,
            capacities=seats,
            best=BEST,
            priced=PRICED,
        )
        return assign([m.person_id for m in org.mentees], seats, edges), len(edges)

    gc.collect()
    (assignment, edges), seconds = timed(round_)
    return assignment, edges, seconds


@dataclass(frozen=True)
class Arcs:
    """Pairs as rows of the reference round, scores in millionths."""

    mentee: Ints
    mentor: Ints
    score: Ints


@dataclass(frozen=True)
class Solution:
    total: int  # millionths
    seat: Ints  # each mentee's mentor row, -1 if none


def optimum(round_: Round, arcs: Arcs) -> Solution:
    """The optimal assignment over ``arcs``, by OR-Tools min-cost flow."""
    mentees, mentors = len(round_.mentees.person), len(round_.mentors.person)
    source, sink = mentees + mentors, mentees + mentors + 1
    flow = min_cost_flow.SimpleMinCostFlow()
    flow.add_arcs_with_capacity_and_unit_cost(
        np.concatenate([np.full(mentees, source), arcs.mentee, mentees + np.arange(mentors), [source]]),
        np.concatenate([np.arange(mentees), mentees + arcs.mentor, np.full(mentors, sink), [sink]]),
        np.concatenate(
            [np.ones(mentees + len(arcs.mentee), dtype=np.int64), np.full(mentors, CAPACITY), [mentees]]
        ),
        np.concatenate(
            [np.zeros(mentees, dtype=np.int64), -arcs.score, np.zeros(mentors + 1, dtype=np.int64)]
        ),
    )
    supplies = np.zeros(sink + 1, dtype=np.int64)
    supplies[source], supplies[sink] = mentees, -mentees
    flow.set_nodes_supplies(np.arange(sink + 1, dtype=np.int64), supplies)
    status = flow.solve()
    if status != flow.OPTIMAL:
        raise RuntimeError(f"reference min-cost flow ended with status {status}")
    used = flow.flows(np.arange(mentees, mentees + len(arcs.mentee), dtype=np.int64)) > 0
    seat = np.full(mentees, -1, dtype=np.int64)
    seat[arcs.mentee[used]] = arcs.mentor[used]
    return Solution(-int(flow.optimal_cost()), seat)


def every_pair(round_: Round) -> Arcs:
    """All eligible pairs scoring above zero, exactly scored."""
    mentees, mentors = len(round_.mentees.person), len(round_.mentors.person)
    parts: list[Arcs] = []
    block = max(1, (1 << 21) // mentors)
    for first in range(0, mentees, block):
        rows = np.arange(first, min(mentees, first + block), dtype=np.int64)
        e, m = np.repeat(rows, mentors), np.tile(np.arange(mentors, dtype=np.int64), len(rows))
        score, eligible = score_pairs(round_, e, m)
        keep = eligible & (score > 0)
        parts.append(Arcs(e[keep], m[keep], score[keep]))
    return Arcs(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("mentee", "mentor", "score")))


def rich_candidates(round_: Round, per_mentee: int = 32, per_mentor: int = 64) -> Arcs:
    """Each mentee's and each mentor's best pairs among those retrieval weighs, exactly scored."""
    mentors = len(round_.mentors.person)
    keys = np.unique(np.concatenate([e * mentors + m for e, m in candidate_pairs(round_, both_ways=True)]))
    e, m = keys // mentors, keys % mentors
    score, eligible = score_pairs(round_, e, m)
    keep = eligible & (score > 0)
    e, m, score = e[keep], m[keep], score[keep]
    chosen = _ranked(e, score) < per_mentee
    chosen |= _ranked(m, score) < per_mentor
    return Arcs(e[chosen], m[chosen], score[chosen])


def _ranked(owner: Ints, score: Ints) -> Ints:
    """Each pair's place among its owner's pairs, best score first."""
    order = np.lexsort((-score, owner))
    place = np.empty(len(owner), dtype=np.int64)
    owned = owner[order]
    place[order] = np.arange(len(owner)) - np.searchsorted(owned, owned)
    return place


def seat_prices(round_: Round, arcs: Arcs, solution: Solution) -> Ints:
    """Duals of ``solution`` over ``arcs``: the least prices v ≥ 0 (millionths) with v = 0
    for a mentor with a free seat and, for every arc, v[mentor] ≥ score − (its mentee's own
    score − v[its mentee's mentor]); found by relaxing those until nothing changes (longest
    paths, finite because the solution is optimal over the arcs)."""
    mentors = len(round_.mentors.person)
    seat = solution.seat
    own = np.zeros(len(seat), dtype=np.int64)
    held = np.flatnonzero(seat >= 0)
    pair_score = {
        (int(e), int(m)): int(s) for e, m, s in zip(arcs.mentee, arcs.mentor, arcs.score, strict=True)
    }
    own[held] = [pair_score[(int(i), int(seat[i]))] for i in held]
    load = np.bincount(seat[held], minlength=mentors)
    order = np.argsort(arcs.mentor, kind="stable")
    e, m, s = arcs.mentee[order], arcs.mentor[order], arcs.score[order]
    starts = np.searchsorted(m, np.arange(mentors))
    present = np.diff(np.append(starts, len(m))) > 0
    seated = seat[e] >= 0
    gain = s - own[e]
    price = np.zeros(mentors, dtype=np.int64)
    for _ in range(100_000):
        need = np.where(seated, price[np.maximum(seat[e], 0)] + gain, s)
        new = np.zeros(mentors, dtype=np.int64)
        new[present] = np.maximum.reduceat(need, starts[present])
        new = np.maximum(new, 0)
        new[load < CAPACITY] = 0
        if np.array_equal(new, price):
            return price
        price = new
    raise RuntimeError("prices did not settle")


def duality_bound(round_: Round, price: Ints) -> float:
    """Σ_mentee max(0, max over every mentor of (score − price)) + Σ capacity × price."""
    upper = _UpperScores(round_)
    value = price.astype(np.float32) / DECIMALS
    best = np.zeros(len(round_.mentees.person), dtype=np.float64)
    for first in range(0, len(best), 512):
        rows = np.arange(first, min(len(best), first + 512), dtype=np.int64)
        best[rows] = np.maximum(0.0, (upper.block(rows) - value[None, :]).max(axis=1))
    return float(best.sum() + CAPACITY * price.sum() / DECIMALS)


class _UpperScores:
    """Every pair's score from dense arrays (float32) plus a margin above the rounding, and
    the eligibility rules that need no pair lists (ignoring management chains and declines
    can only raise the bound)."""

    def __init__(self, round_: Round) -> None:
        self.round_ = round_
        skills = round_.skills
        terms, mentors = len(skills.terms), len(round_.mentors.person)
        weights = skills.weights[skills.codes.reshape(terms + 1, mentors)].astype(np.float32)
        weights[terms] = 0  # the row for goals no mentor covers
        self.weights = weights
        self.goal_count = np.maximum(round_.skills.goal_count, 1).astype(np.float32)
        self.mentee_slots = slot_matrix(round_.mentees).astype(np.float32)
        self.mentor_slots = np.ascontiguousarray(slot_matrix(round_.mentors).astype(np.float32).T)
        self.shares = np.array(round_.shares, dtype=np.float32)

    def block(self, rows: Ints) -> Reals:
        round_, mentees, mentors, shares = self.round_, self.round_.mentees, self.round_.mentors, self.shares
        skills = round_.skills
        covered = np.zeros((len(rows), len(mentors.person)), dtype=np.float32)
        for column in skills.goals:
            covered += self.weights[column[rows]]
        goalless = (skills.goal_count[rows] == 0)[:, None]
        total = shares[0] * np.where(goalless, np.float32(NEUTRAL), covered / self.goal_count[rows][:, None])
        low, high = round_.seniority
        gap = mentors.level[None, :] - mentees.level[rows][:, None]
        distance = np.minimum(np.maximum(np.maximum(low - gap, gap - high), 0), 3).astype(np.float32)
        total += shares[1] * self._neutral_unless(pw.HAS_LEVEL, rows, 1 - distance / 3)
        minutes = pw.SLOT_MINUTES * (self.mentee_slots[rows] @ self.mentor_slots)
        availability = np.minimum(np.float32(1), minutes / TARGET_OVERLAP_MINUTES)
        total += shares[2] * self._neutral_unless(pw.HAS_AVAILABILITY, rows, availability)
        spoken = np.zeros(total.shape, dtype=np.bool_)
        for mine, theirs in zip(mentees.languages, mentors.languages, strict=True):
            spoken |= (mine[rows][:, None] & theirs[None, :]) != 0
        total += shares[3] * self._neutral_unless(pw.HAS_LANGUAGES, rows, spoken.astype(np.float32))
        other = (mentees.team[rows][:, None] != mentors.team[None, :]).astype(np.float32)
        total += shares[4] * self._neutral_unless(pw.HAS_TEAM, rows, other)
        total += np.float32(1e-5)  # above float32 error and six-decimal rounding
        return np.where(self._allowed(rows), total, np.float32(-1))

    def _neutral_unless(self, flag: int, rows: Ints, value: Reals) -> Reals:
        known = self.round_.mentees.has(flag)[rows][:, None] & self.round_.mentors.has(flag)[None, :]
        return np.where(known, value, np.float32(NEUTRAL))

    def _allowed(self, rows: Ints) -> NDArray[np.bool_]:
        mentees, mentors = self.round_.mentees, self.round_.mentors
        gap = np.abs(mentees.offset[rows][:, None] - mentors.offset[None, :])
        ok: NDArray[np.bool_] = ~(gap > np.minimum(mentees.max_gap[rows][:, None], mentors.max_gap[None, :]))
        ok &= ~(mentors.has(pw.EXTERNAL)[None, :] & ~mentees.has(pw.ACCEPTS_EXTERNAL)[rows][:, None])
        team = mentees.team[rows][:, None]
        both_allow = (
            mentees.has(pw.SAME_TEAM_ALLOWED)[rows][:, None] & mentors.has(pw.SAME_TEAM_ALLOWED)[None, :]
        )
        ok &= ~((team >= 0) & (team == mentors.team[None, :]) & ~both_allow)
        return ok


def row(label: str, seconds: float, total: float, note: str = "") -> None:
    print(f"  {label:58} {seconds:7.2f} s  {total:12.3f}  {note}")


def run(size: str, programme: Programme) -> None:
    mentees, mentors = SIZES[size]
    org, built = timed(lambda: organisation(mentees, mentors, capacity=CAPACITY))
    print(f"\n{mentees:,} mentees, {mentors:,} mentors of capacity {CAPACITY}, {programme.programme_id}")
    print(f"  (synthetic population built in {built:.1f} s, not timed below)")
    print(f"  {'':58} {'wall time':>9}  {'total score':>12}")
    assignment, edges, seconds = our_round(org, programme)
    ours = assignment.total_score
    matched = f"{len(assignment.pairs):,} matched over {edges:,} edges"
    row("ours: cohort_edges + assign, from profile features", seconds, ours, matched)
    round_ = build_round(
        org.mentees,
        sorted(org.mentors, key=lambda m: m.person_id),
        programme,
        managers=org.managers,
        declined=org.declined,
    )
    if size == "small":
        arcs, scoring = timed(lambda: every_pair(round_))
        exact, solving = timed(lambda: optimum(round_, arcs))
        note = f"{len(arcs.mentee):,} arcs; scoring {scoring:.1f} s, flow {solving:.1f} s"
        row(
            "reference: every pair scored, min-cost flow over all",
            scoring + solving,
            exact.total / DECIMALS,
            note,
        )
        print(f"  ours / optimum: {100 * ours * DECIMALS / exact.total:.4f}%")
    rich, collecting = timed(lambda: rich_candidates(round_))
    lower, solving = timed(lambda: optimum(round_, rich))
    price, pricing = timed(lambda: seat_prices(round_, rich, lower))
    upper, bounding = timed(lambda: duality_bound(round_, price))
    low = lower.total / DECIMALS
    row(
        "reference from below: optimum over a richer candidate set",
        collecting + solving,
        low,
        f"{len(rich.mentee):,} arcs",
    )
    row("reference from above: duality bound over all pairs", pricing + bounding, upper, "(an upper bound)")
    print(f"  ours / optimum: between {100 * ours / upper:.4f}% and {100 * ours / low:.4f}%")
    if size == "small":
        print("  (the bracket the large run relies on, here beside the exact optimum)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench-cohort-round")
    parser.add_argument("--sizes", choices=["small", "large", "both"], default="both")
    parser.add_argument(
        "--programme", default="career-growth", choices=[p.programme_id for p in DEFAULT_PROGRAMMES]
    )
    args = parser.parse_args(argv)
    programme = next(p for p in DEFAULT_PROGRAMMES if p.programme_id == args.programme)
    for size in ("small", "large") if args.sizes == "both" else (args.sizes,):
        run(size, programme)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
