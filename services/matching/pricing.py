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

import numpy as np

from services.matching.pairwise import Bools, Ints, places

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
    run = _Auction(offers, capacity)
    if start is not None:
        run.price = start.copy()
    for _ in range(rounds):
        if not run.bid(increment):
            break
    unseated = np.zeros(len(offers.starts) - 1, dtype=np.bool_)
    unseated[: run.mentees] = run.bidding & (run.owner < 0)
    return Outcome(run.price, run.owner, unseated, (run.holder == _SEAT_FREE).any(axis=1))


class _Auction:
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

    def bid(self, increment: int) -> bool:
        """One round; False once nobody is left to bid."""
        bidders = np.flatnonzero(self.bidding & (self.owner < 0))
        if len(bidders) == 0:
            return False
        best, surplus, runner_up = self._choices(bidders)
        hopeless = surplus <= 0  # staying unmatched is worth as much
        self.bidding[bidders[hopeless]] = False
        keep = ~hopeless
        bidders, best, surplus, runner_up = bidders[keep], best[keep], surplus[keep], runner_up[keep]
        if len(bidders):
            amount = self.price[best] + surplus - np.maximum(runner_up, 0) + increment
            self._award(bidders, best, amount)
        return True

    def _choices(self, bidders: Ints) -> tuple[Ints, Ints, Ints]:
        """Each bidder's best mentor at current prices, its surplus there, and the
        surplus of its second choice (minus infinity if it has none)."""
        offers = self.offers
        counts = offers.starts[bidders + 1] - offers.starts[bidders]
        segment = np.repeat(np.arange(len(bidders)), counts)
        first = np.cumsum(counts) - counts
        entry = (
            np.arange(int(counts.sum()))
            - np.repeat(first, counts)
            + np.repeat(offers.starts[bidders], counts)
        )
        mentor = offers.mentor[entry]
        value = offers.score[entry] - self.price[mentor]
        top = np.maximum.reduceat(value, first)
        at_top = np.flatnonzero(value == top[segment])
        chosen = at_top[np.searchsorted(segment[at_top], np.arange(len(bidders)))]
        value[chosen] = np.iinfo(np.int64).min // 2
        second = np.maximum.reduceat(value, first)
        return mentor[chosen], top, second

    def _award(self, bidders: Ints, mentor: Ints, amount: Ints) -> None:
        """Each mentor bid for keeps its best bidders (present holders included)."""
        seats = self.holder.shape[1]
        # By mentor, then the highest bid, then the lower mentee row (deterministic ties):
        # one argsort of a packed key, cheaper than lexsort for the thousands of rounds.
        ceiling = int(amount.max()) + 1
        if len(self.price) * ceiling * max(self.mentees, 1) < 1 << 62:
            key = (mentor * ceiling + (ceiling - 1 - amount)) * self.mentees + bidders
            order = np.argsort(key, kind="stable")
        else:
            order = np.lexsort((bidders, -amount, mentor))
        bidders, mentor, amount = bidders[order], mentor[order], amount[order]
        rank = places(mentor)
        self.owner[bidders[rank >= seats]] = -1
        near = rank < seats
        bidders, mentor, amount, rank = bidders[near], mentor[near], amount[near], rank[near]
        taking = mentor[rank == 0]
        place = np.cumsum(rank == 0) - 1
        new_holder = np.full((len(taking), seats), _SEAT_FREE, dtype=np.int64)
        new_bid = np.full((len(taking), seats), -1, dtype=np.int64)
        new_holder[place, rank], new_bid[place, rank] = bidders, amount
        holder = np.concatenate([self.holder[taking], new_holder], axis=1)
        bid = np.concatenate([self.held_bid[taking], new_bid], axis=1)
        # Closed seats rank first so they are never given away; free ones rank last.
        closed = holder == _SEAT_CLOSED
        rank_key = np.where(closed, np.iinfo(np.int64).max, np.where(holder == _SEAT_FREE, -1, bid))
        tie = (1 << _ROW_BITS) - 1 - np.maximum(holder, 0)
        order_in_row = np.argsort(
            -(rank_key.clip(-1, 1 << 40) * (1 << _ROW_BITS) + tie), axis=1, kind="stable"
        )
        holder = np.take_along_axis(holder, order_in_row, axis=1)
        bid = np.take_along_axis(bid, order_in_row, axis=1)
        losers = holder[:, seats:]
        self.owner[losers[losers >= 0]] = -1
        kept, kept_bid = holder[:, :seats], bid[:, :seats]
        self.holder[taking], self.held_bid[taking] = kept, kept_bid
        self.owner[kept[kept >= 0]] = np.repeat(taking, seats)[(kept >= 0).reshape(-1)]
        real = kept != _SEAT_CLOSED
        full = ((kept >= 0) | ~real).all(axis=1)
        lowest = np.where(real & (kept >= 0), kept_bid, np.iinfo(np.int64).max).min(axis=1)
        self.price[taking] = np.where(full & real.any(axis=1), lowest, 0)
