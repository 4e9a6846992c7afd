"""Spreading a round's numpy work over the machine's cores.

numpy lets go of the interpreter inside each operation on large arrays, so independent
pieces of a round (the two sides' candidate generation, slices of pairs to score, halves of
an array to sort) run side by side on threads. Results never depend on the number of
threads: each piece writes only its own output.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

T = TypeVar("T")
Ints = NDArray[np.int64]

WORKERS = max(1, min(2, os.cpu_count() or 1))
# Below this many elements a second thread costs more than it saves.
_WORTH_SPLITTING = 1 << 20


def each(work: Callable[[T], None], pieces: Iterable[T]) -> None:
    """``work(piece)`` for every piece, on up to ``WORKERS`` threads."""
    if WORKERS == 1:
        for piece in pieces:
            work(piece)
        return
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        for _ in pool.map(work, pieces):
            pass


def both(first: Callable[[], T], second: Callable[[], T]) -> tuple[T, T]:
    """Two independent computations, side by side."""
    if WORKERS == 1:
        return first(), second()
    with ThreadPoolExecutor(max_workers=2) as pool:
        later = pool.submit(second)
        return first(), later.result()


def sorted_copy(values: Ints) -> Ints:
    """``np.sort(values)``, the halves sorted on two threads and then merged (a stable sort
    of two sorted runs is a single merge pass)."""
    if WORKERS == 1 or len(values) < _WORTH_SPLITTING:
        return np.sort(values)
    half = len(values) // 2
    low, high = both(lambda: np.sort(values[:half]), lambda: np.sort(values[half:]))
    return np.sort(np.concatenate([low, high]), kind="stable")
