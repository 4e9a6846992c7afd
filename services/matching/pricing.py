"""What each mentor's seats are worth in a cohort round: prices from an auction.

In an optimal assignment every mentee takes the mentor that maximises its score minus the
mentor's price (the linear programme's dual), and a mentor nobody else wants costs nothing.
A mentee's best mentors at those prices are the edges the assignment needs besides its best
mentors outright: with them a few edges per mentee reach nearly the optimum of all pairs, so
the exact solver gets a small graph (see ``shortlist.cohort_edges``).

The prices come from an auction (Bertsekas) run on the candidate pairs: every mentee without
a seat bids, at once, for the mentor worth most to it at current prices, raising that price
by what the mentor is worth to it beyond its second choice, plus ``INCREMENT``; a mentor
keeps its best bidders up to its capacity, and a full mentor's price is its lowest kept bid.
In a round where seats barely cover the mentees the last bidders displace each other in
long chains, so the auction stops after ``ROUNDS`` rounds: the prices only choose edges, the
solver decides, and the edges of whoever is left over let it finish the chains.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from services.matching.pair_kernels import compiled, inlined
from services.matching.pairwise import Bools, Ints

INCREMENT = 10_000  # millionths of a score point
ROUNDS = 300
_SEAT_FREE = -1
_SEAT_CLOSED = -2  # beyond a mentor's capacity
_ROW_BITS = 21


@dataclass(frozen=True)
class Offers:
    """Candidate pairs by mentee: entries ``starts[i]`` to ``starts[i + 1]`` are mentee
    ``i``'s."""

    starts: Ints
    mentor: Ints
    score: Ints  # millionths

    @staticmethod
    def of(mentee: Ints, mentor: Ints, score: Ints, seats: Ints, mentees: int) -> Offers:
        """The pairs with a mentor who has seats, of mentee rows below ``mentees``;
        ``mentee`` must be sorted."""
        open_ = seats[mentor] > 0
        starts = np.searchsorted(mentee[open_], np.arange(mentees + 1))
        return Offers(starts.astype(np.int64), mentor[open_], score[open_])


@dataclass(frozen=True)
class Outcome:
    price: Ints  # millionths, by mentor row: 0 for a mentor with seats to spare
    seat: Ints  # by mentee row: the mentor row holding it when the auction stopped, or -1
    unseated: Bools  # by mentee row: still bidding when the auction stopped
    open_seats: Bools  # by mentor row: a seat left when it stopped


def auction(
    offers: Offers,
    capacity: Ints,
    *,
    increment: int = INCREMENT,
    rounds: int = ROUNDS,
    start: Ints | None = None,
) -> Outcome:
    """Seat prices from an auction over the offers, stopped after ``rounds`` rounds; from
    ``start`` prices if given (a finer auction after a coarse one: ε-scaling)."""
    run = Auction(offers, capacity)
    if start is not None:
        run.price = start.copy()
    run.bid_rounds(increment, rounds)
    return run.outcome()


class Auction:
    """An auction's state: prices, each mentor's seats (holder and bid), each mentee's seat."""

    def __init__(self, offers: Offers, capacity: Ints) -> None:
        self.offers = offers
        self.mentees = len(offers.starts) - 1
        seats = max(1, int(capacity.max(initial=1)))
        self.price = np.zeros(len(capacity), dtype=np.int64)
        open_seat = np.arange(seats)[None, :] < capacity[:, None]
        self.holder = np.where(open_seat, _SEAT_FREE, _SEAT_CLOSED).astype(np.int64)
        self.held_bid = np.zeros(self.holder.shape, dtype=np.int64)
        self.owner = np.full(self.mentees, -1, dtype=np.int64)
        degree = np.diff(offers.starts)
        self.bidding: Bools = degree > 0

    def bid_rounds(self, increment: int, rounds: int) -> None:
        offers = self.offers
        _bid_rounds(
            offers.starts,
            offers.mentor,
            offers.score,
            self.price,
            self.holder,
            self.held_bid,
            self.owner,
            self.bidding,
            increment,
            rounds,
        )

    def outcome(self) -> Outcome:
        unseated = np.zeros(len(self.offers.starts) - 1, dtype=np.bool_)
        unseated[: self.mentees] = self.bidding & (self.owner < 0)
        return Outcome(self.price, self.owner, unseated, (self.holder == _SEAT_FREE).any(axis=1))


_LOST = np.iinfo(np.int64).min // 2  # a second choice's surplus when there is none
_HIGHEST = np.iinfo(np.int64).max
_TOP = 1 << 40  # bids are clipped to this when seats are ranked, closed seats above it


@compiled
def _bid_rounds(
    starts: Any,
    mentor: Any,
    score: Any,
    price: Any,
    holder: Any,
    held_bid: Any,
    owner: Any,
    bidding: Any,
    increment: int,
    rounds: int,
) -> None:  # pragma: no cover - compiled
    """Up to ``rounds`` rounds of bidding, prices, seats and owners updated in place.

    In a round every mentee without a seat and still bidding bids at once, at the prices
    the round began with, for its best mentor (value score minus price, the first offer on
    ties), raising its price by the value beyond its second choice plus ``increment``;
    one whose best value is not above 0 stops bidding. Each mentor bid for then keeps, of
    its holders and its best bids (highest first, then the lower mentee row), its seats'
    worth; closed seats stay closed. A mentor without a free seat costs its lowest kept bid,
    one with a free seat nothing."""
    mentees = len(starts) - 1
    seats = holder.shape[1]
    bidders = np.empty(mentees, dtype=np.int64)
    wanted = np.empty(mentees, dtype=np.int64)
    amount = np.empty(mentees, dtype=np.int64)
    first_bid = np.full(len(price), -1, dtype=np.int64)
    next_bid = np.empty(mentees, dtype=np.int64)
    taking = np.empty(len(price), dtype=np.int64)
    row_holder = np.empty(2 * seats + 1, dtype=np.int64)
    row_bid = np.empty(2 * seats + 1, dtype=np.int64)
    row_key = np.empty(2 * seats + 1, dtype=np.int64)
    for _ in range(rounds):
        count = 0
        anyone = False
        for i in range(mentees):
            if not bidding[i] or owner[i] >= 0:
                continue
            anyone = True
            chosen = -1
            top = 0
            for at in range(starts[i], starts[i + 1]):
                value = score[at] - price[mentor[at]]
                if chosen < 0 or value > top:
                    chosen, top = at, value
            second = _LOST
            for at in range(starts[i], starts[i + 1]):
                if at != chosen:
                    second = max(second, score[at] - price[mentor[at]])
            if top <= 0:  # staying unmatched is worth as much
                bidding[i] = False
                continue
            bidders[count] = i
            wanted[count] = mentor[chosen]
            amount[count] = price[mentor[chosen]] + top - max(second, 0) + increment
            count += 1
        if not anyone:
            return
        # Each mentor's bids, chained in mentee order.
        mentors_bid = 0
        for at in range(count - 1, -1, -1):
            m = wanted[at]
            if first_bid[m] < 0:
                taking[mentors_bid] = m
                mentors_bid += 1
            next_bid[at] = first_bid[m]
            first_bid[m] = at
        for t in range(mentors_bid):
            m = taking[t]
            filled = 0
            for place in range(seats):
                row_holder[filled], row_bid[filled] = holder[m, place], held_bid[m, place]
                filled += 1
            at = first_bid[m]
            while at >= 0:
                row_holder[filled], row_bid[filled] = bidders[at], amount[at]
                filled += 1
                # Only the best ``seats`` bids can be kept: drop the worst beyond that.
                if filled > 2 * seats:
                    filled = _drop_worst(row_holder, row_bid, row_key, filled, seats)
                at = next_bid[at]
            first_bid[m] = -1
            # Rank: closed seats first, then bids high to low (lower row first), free last.
            for place in range(filled):
                row_key[place] = _seat_key(row_holder[place], row_bid[place])
            for place in range(1, filled):  # insertion sort, stable: a few seats
                key, who, bid = row_key[place], row_holder[place], row_bid[place]
                back = place - 1
                while back >= 0 and row_key[back] < key:
                    row_key[back + 1] = row_key[back]
                    row_holder[back + 1] = row_holder[back]
                    row_bid[back + 1] = row_bid[back]
                    back -= 1
                row_key[back + 1], row_holder[back + 1], row_bid[back + 1] = key, who, bid
            for place in range(seats, filled):
                if row_holder[place] >= 0:
                    owner[row_holder[place]] = -1
            full = True
            real = False
            lowest = _HIGHEST
            for place in range(seats):
                who = row_holder[place]
                holder[m, place], held_bid[m, place] = who, row_bid[place]
                if who >= 0:
                    owner[who] = m
                    lowest = min(lowest, row_bid[place])
                if who != _SEAT_CLOSED:
                    real = True
                if who == _SEAT_FREE:
                    full = False
            price[m] = lowest if full and real else 0


@inlined
def _seat_key(who: int, bid: int) -> int:  # pragma: no cover - compiled
    """Higher ranks first: closed seats, then bids (ties to the lower row), free seats."""
    if who == _SEAT_CLOSED:
        value = _TOP
    elif who == _SEAT_FREE:
        value = -1
    else:
        value = min(max(bid, -1), _TOP)
    return value * (1 << _ROW_BITS) + (1 << _ROW_BITS) - 1 - max(who, 0)


@inlined
def _drop_worst(who: Any, bid: Any, key: Any, filled: int, seats: int) -> int:  # pragma: no cover
    """The entries less the lowest ranked new bid (entries from ``seats`` on are bids)."""
    worst = seats
    for place in range(seats, filled):
        key[place] = _seat_key(who[place], bid[place])
        if key[place] < key[worst]:
            worst = place
    who[worst], bid[worst] = who[filled - 1], bid[filled - 1]
    return filled - 1
