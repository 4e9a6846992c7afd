"""Drawing a fixed set of examples from a strategy, for a burst against the running platform.

A real-stack run cannot afford hypothesis's loop of one test run per example, so the examples
are collected first, with a fixed seed: the same seed and count give the same messages, so a
failing run can be repeated.
"""

from __future__ import annotations

from typing import TypeVar

import hypothesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

T = TypeVar("T")


def draw_examples(strategy: st.SearchStrategy[T], count: int, seed: int) -> list[T]:
    """``count`` examples of ``strategy`` (fewer only if it has fewer distinct ones)."""
    drawn: list[T] = []

    @hypothesis.seed(seed)
    @settings(
        max_examples=count,
        database=None,
        phases=[Phase.generate],
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(value: T) -> None:
        drawn.append(value)

    collect()
    return drawn
