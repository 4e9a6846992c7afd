"""The cohort assignment by an auction over mentors' seats, with a computed certificate of
how far from the optimum it can be (compiled loops, numba).

The problem ``assignment`` solves: each mentee takes at most one mentor, a mentor at most
its capacity, the total score less the fairness penalty as high as it can be. A mentor's
k-th seat (from 0) costs ``base[k]``: 0 for the first, nondecreasing (``fairness × k``).

The auction (Bertsekas' forward auction for similar objects, Gauss-Seidel: one bidder at a
time). A mentor's entry cost is the lower of its next free seat's base and the lowest bid
it holds. A mentee without a seat bids for the mentor worth most to it (score minus entry
cost), at a bid that leaves that mentor worth ε less than its second choice (another
mentor, or staying unmatched, worth 0), and never above its score; it takes the next free
seat if that was the cheaper way in, else it displaces the lowest bidder, who bids again.
One who gains nothing from any mentor stays unmatched. Each bid raises the mentor's entry
cost by at least ε or by the bidder's positive gain, and no bid exceeds a score, so the
auction ends.

Why the result is near the optimum. Bids only rise, so every holder stays within ε of its
best choice (ε-complementary slackness); seats are only ever freed by a displacement that
fills them again, so a mentor with a free seat has every earlier seat filled, and its entry
cost lies between the base of its last filled seat and that of its next free one. By linear
programming duality, for any mentor prices ``μ ≥ 0`` no assignment totals more than

    D(μ) = Σ_mentee max(0, max_mentor(score − μ)) + Σ_mentor Σ_{k < capacity} max(0, μ − base[k])

(seat k priced ``max(0, μ − base[k])`` makes every seat of the mentor cost at least ``μ``,
the first exactly ``μ``), and at the entry costs the two facts above make ``D(μ)`` exceed
the assignment's total by at most ε per mentee.

That argument is not trusted blindly: ``D(μ)`` and the total are computed, in integers,
after the auction, and the assignment is returned only if their gap (which bounds its
distance to the optimum over the edges given) is at most ``tolerance`` times its total.
Otherwise the auction runs again from the start with ε a ``FACTOR`` smaller, and gives up
(None: the caller solves exactly) once ε = 1 has failed.

A single auction from zero prices, not ε-scaling: restarting a phase from the last phase's
prices leaves seats free at prices a forward auction never lowers (measured: 2-4% short on
tight rounds), and reverse bidding to lower them ran for seconds per phase. But a single
fine auction meets price wars on cohort rounds, where seats just cover mentees and scores
take a few hundred values: measured 3.3 s at 10,000 mentees and 224 s at 100,000, against
0.25 s and 8.3 s for the exact flow. Hence not used by ``assignment``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from services.matching.pair_kernels import compiled, inlined

Ints = NDArray[np.int64]

# Each retry's ε is the last one's divided by this.
FACTOR = 8
# The first ε: the highest score over this.
FIRST_SHARE = 8
# A mentor without seats: a cost no score reaches.
_NEVER = np.int64(1) << np.int64(60)
_NONE = np.iinfo(np.int64).min // 4


def auction_arcs(
    mentees: int,
    capacity: Ints,
    mentee: Ints,
    mentor: Ints,
    score: Ints,
    base: Ints,
    *,
    tolerance: float,
) -> Ints | None:
    """Which arcs (mentee row, mentor row, score in millionths) the auction's assignment
    uses, as indices, once its certified gap to the optimum is at most ``tolerance`` times
    its total (the fairness penalty counted); None if ε reached 1 without that. ``base``
    holds the penalty of each seat rank, at least as long as the largest capacity."""
    order = np.argsort(mentee, kind="stable")
    starts = np.searchsorted(mentee[order], np.arange(mentees + 1)).astype(np.int64)
    seat_start = np.concatenate([[0], np.cumsum(capacity)]).astype(np.int64)
    rank = np.arange(int(seat_start[-1]), dtype=np.int64) - np.repeat(seat_start[:-1], capacity)
    # Scores and penalties times (mentees + 1): at ε = 1, ε per mentee adds up to less than
    # a millionth, where no worse assignment fits, so small rounds can be certified exact.
    scale = mentees + 1
    found, certified = _auction(
        starts,
        np.ascontiguousarray(mentor[order], dtype=np.int64),
        np.ascontiguousarray(score[order], dtype=np.int64) * scale,
        seat_start,
        np.ascontiguousarray(base[rank], dtype=np.int64) * scale,
        tolerance,
        scale,
    )
    return np.sort(order[found]) if certified else None


@compiled
def _auction(
    starts: Any, mentor: Any, score: Any, seat_start: Any, base: Any, tolerance: float, scale: int
) -> Any:  # pragma: no cover - compiled
    """The places (in these arrays) of the edges used, and whether the certificate holds:
    auctions from zero prices at falling ε until it does, or until ε = 1 has run."""
    mentees = len(starts) - 1
    mentors = len(seat_start) - 1
    best = 0
    for i in range(mentees):
        top = 0
        for at in range(starts[i], starts[i + 1]):
            top = max(top, score[at])
        best += top
    # ε per mentee adding up to the tolerance's share of every mentee's best score: the
    # certified gap then comes out well inside the tolerance (measured).
    epsilon = max(1, int(tolerance * best / max(1, mentees)))
    queue = np.empty(max(1, mentees), dtype=np.int64)
    while True:
        cost = base.copy()
        holder = np.full(len(base), -1, dtype=np.int64)
        seat_of = np.full(mentees, -1, dtype=np.int64)
        edge_of = np.full(mentees, -1, dtype=np.int64)
        cheapest = np.empty(mentors, dtype=np.int64)
        cheapest_seat = np.empty(mentors, dtype=np.int64)
        for j in range(mentors):
            _refresh(j, seat_start, cost, cheapest, cheapest_seat)
        _phase(
            starts,
            mentor,
            score,
            seat_start,
            cost,
            holder,
            seat_of,
            edge_of,
            cheapest,
            cheapest_seat,
            queue,
            epsilon,
        )
        dual, primal, _ = _bounds(starts, mentor, score, seat_start, base, seat_of, edge_of, cheapest)
        # Below one unit of the scale the gap proves the assignment optimal: the optimum
        # and the total are whole multiples of it.
        if dual - primal <= tolerance * primal or dual - primal < scale:
            break
        if epsilon == 1:
            return np.zeros(0, dtype=np.int64), False
        epsilon = max(1, epsilon // FACTOR)
    used = np.empty(mentees, dtype=np.int64)
    count = 0
    for i in range(mentees):
        if seat_of[i] >= 0:
            used[count] = edge_of[i]
            count += 1
    return used[:count], True


@inlined
def _refresh(
    j: int, seat_start: Any, cost: Any, cheapest: Any, cheapest_seat: Any
) -> None:  # pragma: no cover
    """Mentor ``j``'s entry: its cheapest seat (the first on ties, so free seats fill in
    rank order) and that seat's cost (its base while free, else the bid holding it)."""
    lowest = _NEVER
    where = -1
    for s in range(seat_start[j], seat_start[j + 1]):
        if cost[s] < lowest:
            lowest, where = cost[s], s
    cheapest[j], cheapest_seat[j] = lowest, where


@inlined
def _best_two(i: int, starts: Any, mentor: Any, score: Any, cheapest: Any) -> Any:  # pragma: no cover
    """Mentee ``i``'s best edge at current entry costs, its value, and the best value of
    its edges to other mentors (``_NONE`` if none)."""
    chosen = -1
    first = _NONE
    runner = _NONE
    for at in range(starts[i], starts[i + 1]):
        value = score[at] - cheapest[mentor[at]]
        if value > first:
            runner, first, chosen = first, value, at
        elif value > runner and mentor[at] != mentor[chosen]:
            runner = value
    return chosen, first, runner


@compiled
def _phase(
    starts: Any,
    mentor: Any,
    score: Any,
    seat_start: Any,
    cost: Any,
    holder: Any,
    seat_of: Any,
    edge_of: Any,
    cheapest: Any,
    cheapest_seat: Any,
    queue: Any,
    epsilon: int,
) -> None:  # pragma: no cover - compiled
    """The auction at ``epsilon`` from the costs and seats given (updated in place): first
    holders more than ε short of their best choice give their seats up (at the price they
    hold, so entry costs stay) and mentees without a seat with something worth more than ε
    join the bidders; then bidding until none is left."""
    mentees = len(starts) - 1
    size = len(queue)
    head = 0
    waiting = 0
    for i in range(mentees):
        chosen, first, _ = _best_two(i, starts, mentor, score, cheapest)
        if chosen < 0:
            continue
        s = seat_of[i]
        held = score[edge_of[i]] - cheapest[mentor[edge_of[i]]] if s >= 0 else 0
        if held >= max(first, 0) - epsilon:
            continue
        if s >= 0:
            holder[s] = -1
            seat_of[i] = -1
        queue[waiting] = i
        waiting += 1
    while waiting > 0:
        i = queue[head]
        head = (head + 1) % size
        waiting -= 1
        chosen, first, runner = _best_two(i, starts, mentor, score, cheapest)
        if first <= 0:  # staying unmatched is worth as much
            continue
        runner = max(runner, 0)
        j = mentor[chosen]
        s = cheapest_seat[j]
        # Never above the score: a bid worth less than staying unmatched would make the
        # bidder give the seat up later with its price stuck where no one wants it.
        cost[s] = min(score[chosen] - runner + epsilon, score[chosen])
        before = holder[s]
        if before >= 0:
            seat_of[before] = -1
            queue[(head + waiting) % size] = before
            waiting += 1
        holder[s], seat_of[i], edge_of[i] = i, s, chosen
        _refresh(j, seat_start, cost, cheapest, cheapest_seat)


@compiled
def _bounds(
    starts: Any,
    mentor: Any,
    score: Any,
    seat_start: Any,
    base: Any,
    seat_of: Any,
    edge_of: Any,
    cheapest: Any,
) -> Any:  # pragma: no cover - compiled
    """The dual bound ``D(μ)`` at each mentor's entry cost, and the assignment's total with
    each mentor's penalty for as many seats as it fills, lowest ranks first."""
    mentees = len(starts) - 1
    mentors = len(seat_start) - 1
    dual = 0
    primal = 0
    load = np.zeros(mentors, dtype=np.int64)
    for i in range(mentees):
        best = 0
        for at in range(starts[i], starts[i + 1]):
            best = max(best, score[at] - cheapest[mentor[at]])
        dual += best
        if seat_of[i] >= 0:
            at = edge_of[i]
            primal += score[at]
            load[mentor[at]] += 1
    stuck = 0
    for j in range(mentors):
        for s in range(seat_start[j], seat_start[j + 1]):
            dual += max(0, cheapest[j] - base[s])
            if s >= seat_start[j] + load[j]:
                stuck += max(0, cheapest[j] - base[s])
        for s in range(seat_start[j], seat_start[j] + load[j]):
            primal -= base[s]
    return dual, primal, stuck
