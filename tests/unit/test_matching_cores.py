"""Work spread over both cores gives exactly what one core gives; pair keys deduplicated
in 32 bits are the keys numpy finds."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.matching import cores
from services.matching.pairwise import distinct


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), size=st.integers(0, 200_000), spread=st.integers(1, 1 << 40))
def test_distinct_pair_keys_are_numpys_unique_values_within_and_beyond_32_bits(
    seed: int, size: int, spread: int
) -> None:
    values = np.random.default_rng(seed).integers(0, spread, size=size, dtype=np.int64)
    found = distinct(values)
    assert found.dtype == np.int64
    assert np.array_equal(found, np.unique(values))


@pytest.mark.parametrize("workers", [1, 2])
def test_every_piece_of_work_is_done_once_whatever_the_number_of_threads(
    workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cores, "WORKERS", workers)
    done = np.zeros(100, dtype=np.int64)

    def work(at: int) -> None:
        done[at] += 1

    cores.each(work, range(100))
    assert done.tolist() == [1] * 100
    assert cores.both(lambda: "first", lambda: "second") == ("first", "second")
    assert cores.mapped(lambda at: at * at, list(range(50))) == [at * at for at in range(50)]


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_a_cohort_pool_cut_by_ranges_of_mentees_is_each_owners_best_of_every_weighed_pair(
    workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each thread sorts, scores and cuts a range of mentees; mentors' cuts count every range.
    from contracts.programmes import DEFAULT_PROGRAMMES
    from services.matching import shortlist
    from tests.support.population import organisation

    org = organisation(1_600, 1_400, seed=5)
    round_ = shortlist._round(org.mentees, org.mentors, DEFAULT_PROGRAMMES[0], org.managers, org.declined)
    assert round_ is not None
    monkeypatch.setattr(cores, "WORKERS", workers)
    every = shortlist._weighed(round_, 5, both_ways=True)
    best = shortlist._among_best(every.mentee, every.score, every.mentees, shortlist.POOL_PER_MENTEE)
    best |= shortlist._among_best(every.mentor, every.score, every.mentors, shortlist.POOL_PER_MENTOR)
    pool = shortlist._weighed(round_, 5, both_ways=True, pool=True)
    assert len(pool.score) < len(every.score)
    assert np.array_equal(pool.pairs(), every.pairs()[best])
    assert np.array_equal(pool.score, every.score[best])
