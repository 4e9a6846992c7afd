"""Spreading a round's numpy work over the machine's cores.

numpy lets go of the interpreter inside each operation on large arrays, so independent
pieces of a round (the two sides' candidate generation, slices of pairs to score, the two
sides' rankings) run side by side on threads. (Sorting halves on two threads and merging
them measured slower than one sort, so sorts stay whole.) Results never depend on the number of
threads: each piece writes only its own output.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

WORKERS = max(1, min(2, os.cpu_count() or 1))


def each(work: Callable[[T], None], pieces: Iterable[T], *, threads: bool = True) -> None:
    """``work(piece)`` for every piece, on up to ``WORKERS`` threads; on the caller's thread
    alone when not ``threads`` (a caller already running on one of them)."""
    if WORKERS == 1 or not threads:
        for piece in pieces:
            work(piece)
        return
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        for _ in pool.map(work, pieces):
            pass


def mapped(work: Callable[[T], R], pieces: Sequence[T]) -> list[R]:
    """``[work(piece) for piece in pieces]``, on up to ``WORKERS`` threads."""
    if WORKERS == 1 or len(pieces) < 2:
        return [work(piece) for piece in pieces]
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return list(pool.map(work, pieces))


def both(first: Callable[[], T], second: Callable[[], T]) -> tuple[T, T]:
    """Two independent computations, side by side."""
    if WORKERS == 1:
        return first(), second()
    with ThreadPoolExecutor(max_workers=2) as pool:
        later = pool.submit(second)
        return first(), later.result()
