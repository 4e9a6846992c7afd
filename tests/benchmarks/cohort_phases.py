"""Where a cohort round's time goes: one round, phase by phase, in wall and processor time.

    python -m tests.benchmarks.cohort_phases [--size small|large]

The same round as ``cohort_round``'s *ours*, with the steps of ``shortlist.cohort_edges``
and ``assignment.assign`` timed where they are called. Processor time counts every thread,
so it stays comparable when other work shares the cores (wall time then does not). A phase
that calls another counts it too: the rankings' own cuts are inside the bucket phases as
well. Phases that run on threads side by side (candidate generation, then sorting, scoring
and cutting each range of mentees) each count their own time, so their wall times can add
up to more than the round's.
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable, Iterator
from typing import Any

from contracts.programmes import DEFAULT_PROGRAMMES
from services.matching import assignment, shortlist, warm_up
from services.matching.pair_kernels import ByMentee
from tests.benchmarks.cohort_round import BEST, CAPACITY, PRICED, SIZES, timed
from tests.support.population import organisation

# (module or class, function, phase): the steps a round goes through, in order.
STEPS = (
    (shortlist, "_round", "build round (profile features to columns)"),
    (shortlist, "candidate_pairs", "candidate generation"),
    (ByMentee, "of", "candidates grouped by mentee (compiled)"),
    (shortlist, "weigh_mentees", "distinct pairs + exact scoring (compiled)"),
    (shortlist, "distinct", "deduplication of chosen pair keys"),
    (shortlist, "score_pairs", "exact scoring (every pair, small rounds)"),
    (shortlist, "pool_marks", "score buckets and counts, pool cut (compiled)"),
    (shortlist, "among_best", "each owner's best (compiled)"),
    (shortlist, "ranked", "each owner's best, ranked (compiled)"),
    (shortlist, "_cut", "cuts (each owner's best)"),
    (shortlist, "_Ranking", "rankings"),
    (shortlist, "auction", "auction"),
    (shortlist, "_edges", "edge table"),
    (assignment, "optimal_arcs", "min-cost flow"),
)


class Phases:
    def __init__(self) -> None:
        self.spent: dict[str, list[float]] = {}

    def timing(self, phase: str, work: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            wall, processor = time.perf_counter(), time.process_time()
            result = work(*args, **kwargs)
            if isinstance(result, Iterator):  # a generator works when read: read it here
                result = iter(list(result))
            spent = self.spent.setdefault(phase, [0.0, 0.0])
            spent[0] += time.perf_counter() - wall
            spent[1] += time.process_time() - processor
            return result

        return timed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench-cohort-phases")
    parser.add_argument("--size", choices=list(SIZES), default="small")
    size = parser.parse_args(argv).size
    programme = next(p for p in DEFAULT_PROGRAMMES if p.programme_id == "career-growth")
    mentees, mentors = SIZES[size]
    org = organisation(mentees, mentors, capacity=CAPACITY)
    seats = {m.person_id: CAPACITY for m in org.mentors}
    # Compiling the round's loops (or loading them from numba's disk cache) is the service's
    # start-up work, not a round's: done here, before the clock starts.
    _, warming = timed(warm_up.warm)
    phases = Phases()
    for module, name, phase in STEPS:
        setattr(module, name, phases.timing(phase, getattr(module, name)))
    gc.collect()
    wall, processor = time.perf_counter(), time.process_time()
    edges = shortlist.cohort_edges(
        org.mentees,
        org.mentors,
        programme,
        managers=org.managers,
        declined=org.declined,
        capacities=seats,
        best=BEST,
        priced=PRICED,
    )
    result = assignment.assign([m.person_id for m in org.mentees], seats, edges)
    wall, processor = time.perf_counter() - wall, time.process_time() - processor
    print(f"{mentees:,} mentees, {mentors:,} mentors of capacity {CAPACITY}, {programme.programme_id}")
    print(f"  (compiled loops warmed before timing, not timed below: {warming:.1f} s)")
    print(f"  {'':44} {'wall':>8} {'processor':>10}")
    for phase, (spent_wall, spent_processor) in phases.spent.items():
        print(f"  {phase:44} {spent_wall:7.2f}s {spent_processor:9.2f}s")
    print(f"  {'the round':44} {wall:7.2f}s {processor:9.2f}s")
    print(f"  {len(edges):,} edges, {len(result.pairs):,} matched, total score {result.total_score:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
