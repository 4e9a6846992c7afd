"""Compiling a cohort round's loops (numba) before the first round needs them."""

from __future__ import annotations

import numpy as np

from contracts.profile import MatchingPreferences
from contracts.programmes import DEFAULT_PROGRAMMES
from services.matching.candidates import Candidate
from services.matching.pair_kernels import (
    ByMentee,
    Columns,
    Spans,
    best_first,
    pool_marks,
    promises,
    ranked,
    score_pairs,
    weigh_mentees,
)
from services.matching.pairwise import build_round
from services.matching.pricing import Offers, auction


def warm() -> None:
    """Compile the loops (or load them from the disk cache) on a round of two, so that the
    first real round does not pay for it: compiling takes seconds, loading about one."""
    preferences = MatchingPreferences()

    def person(person_id: str, *, mentor: bool) -> Candidate:
        return Candidate(
            person_id=person_id,
            active=True,
            external=False,
            level_rank=2 + 2 * mentor,
            team=person_id,
            manager_id=None,
            utc_offset_hours=0.0,
            skills={"warm-up": 1.0} if mentor else {},
            goals=frozenset() if mentor else frozenset({"warm-up"}),
            interests=frozenset(),
            languages=frozenset({"en"}),
            availability=((0, 120),),
            mentor_capacity=int(mentor),
            mentee=not mentor,
            preferences=preferences,
            programmes=frozenset(),
        )

    round_ = build_round(
        [person("mentee", mentor=False)],
        [person("mentor", mentor=True)],
        DEFAULT_PROGRAMMES[0],
        managers={},
        declined=frozenset(),
    )
    columns = Columns.of(round_)
    one = np.zeros(1, dtype=np.int64)
    score_pairs(round_, columns, one, one, threads=False)
    pairs = ByMentee.of([(one, one), Spans(one, one, one + 1, np.zeros(2, dtype=np.int64))], 1)
    weigh_mentees(round_, columns, pairs, 0, 1)
    weigh_mentees(round_, columns, pairs, 0, 1, by_mentor=True)
    pool_marks(one, one, one, 1, keep=1, bits=13, buckets=123, ceiling=1_000_016)
    # Rounds that score candidates hand over 32-bit columns (``weigh_mentees``).
    small = one.astype(np.int32)
    pool_marks(small, small, small, 1, keep=1, bits=13, buckets=123, ceiling=1_000_016)
    ranked(one, one, one, 1, keep=1, bits=13, buckets=123, ceiling=1_000_016)
    square = np.ones((1, 1), dtype=np.float32)
    best_first(square, np.zeros((1, 1), dtype=np.int64))
    promises(0.5, square, one, square, square, one, one)
    seats = np.ones(1, dtype=np.int64)
    auction(Offers.of(one, one, one + 1, seats, 1), seats)
