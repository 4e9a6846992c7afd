"""The order a large round's candidate pairs are scored in: mentee by mentee in key order
(each goal's skill codes read along a row of mentors) beside mentor by mentor in blocks
(each mentor's record fetched once a block), on the same candidates in the same process.

    python -m tests.benchmarks.cohort_scoring_order [--size small|large] [--mentees N]

``weigh_mentees`` picks the order by the number of mentors (``MENTORS_IN_CACHE``); this
shows what each order costs on this machine, on two threads as a round runs them.
"""

from __future__ import annotations

import argparse
import time
from functools import partial

import numpy as np
from numpy.typing import NDArray

from contracts.programmes import DEFAULT_PROGRAMMES
from services.matching import cores, shortlist, warm_up
from services.matching.pair_kernels import MENTORS_IN_CACHE, ByMentee, Columns, weigh_mentees
from services.matching.pairwise import Round
from services.matching.retrieval import candidate_pairs
from tests.benchmarks.cohort_round import CAPACITY, SIZES
from tests.support.population import organisation


def _weigh(
    round_: Round, columns: Columns, grouped: ByMentee, by_mentor: bool, rows: tuple[int, int]
) -> tuple[NDArray[np.int32], NDArray[np.int32], NDArray[np.int32]]:
    return weigh_mentees(round_, columns, grouped, *rows, by_mentor=by_mentor)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench-cohort-scoring-order")
    parser.add_argument("--size", choices=list(SIZES), default="large")
    parser.add_argument("--mentees", type=int, default=40_000, help="scored per order and run")
    parser.add_argument("--runs", type=int, default=3)
    arguments = parser.parse_args(argv)
    programme = next(p for p in DEFAULT_PROGRAMMES if p.programme_id == "career-growth")
    mentees, mentors = SIZES[arguments.size]
    org = organisation(mentees, mentors, capacity=CAPACITY)
    warm_up.warm()
    round_ = shortlist._round(org.mentees, org.mentors, programme, org.managers, org.declined)
    assert round_ is not None
    columns = Columns.of(round_)
    grouped = ByMentee.of(list(candidate_pairs(round_, both_ways=True)), mentees)
    scored = min(arguments.mentees, mentees)
    halves = [(0, scored // 2), (scored // 2, scored)]
    print(f"{mentees:,} mentees, {mentors:,} mentors; the first {scored:,} mentees' candidates scored,")
    print(f"  {int(grouped.starts[scored]):,} pairs with repeats, on {cores.WORKERS} threads")
    print(f"  (a round scores in key order up to {MENTORS_IN_CACHE:,} mentors)")
    print(f"  {'run':>4} {'order':24} {'wall':>8} {'processor':>10}")
    results = {}
    for run in range(arguments.runs):
        for by_mentor in (True, False):
            wall, processor = time.perf_counter(), time.process_time()
            weigh = partial(_weigh, round_, columns, grouped, by_mentor)
            parts = cores.mapped(weigh, halves)
            wall, processor = time.perf_counter() - wall, time.process_time() - processor
            name = "mentor by mentor" if by_mentor else "key order"
            print(f"  {run + 1:>4} {name:24} {wall:7.2f}s {processor:9.2f}s")
            results[by_mentor] = np.concatenate([part[2] for part in parts])
    assert results[True].tolist() == results[False].tolist()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
