"""Work spread over both cores gives exactly what one core gives."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.matching import cores


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), size=st.integers(0, 3_000_000), spread=st.integers(1, 1 << 40))
def test_an_array_sorted_in_two_halves_and_merged_is_sorted_like_numpy_sorts_it(
    seed: int, size: int, spread: int
) -> None:
    values = np.random.default_rng(seed).integers(0, spread, size=size, dtype=np.int64)
    assert np.array_equal(cores.sorted_copy(values), np.sort(values))


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
