"""The auction of ``services.matching.pricing`` as it was written in numpy, a round at a time:
the reference its compiled loop is held to, outcome for outcome."""

from __future__ import annotations

import numpy as np

from services.matching.pairwise import Ints, places
from services.matching.pricing import _ROW_BITS, _SEAT_CLOSED, _SEAT_FREE, Auction


class NumpyAuction(Auction):
    """``pricing.Auction`` bidding a round at a time in numpy."""

    def bid_rounds(self, increment: int, rounds: int) -> None:
        for _ in range(rounds):
            if not self.bid(increment):
                break

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
