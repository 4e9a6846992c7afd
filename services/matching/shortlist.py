"""Each mentee's best mentors for a cohort round, and the edges its assignment needs.

``shortlist`` is ``scoring.rank_mentors(..., limit=k)`` for every mentee of a round at once:
the same eligibility, the very same scores (``pairwise`` reproduces ``scoring`` to the last
bit), the same order. Small rounds (up to ``EXHAUSTIVE_PAIRS`` pairs) and rounds asking for
every mentor score every pair, so there the result is exactly ``rank_mentors``'; larger ones
score only the candidates ``retrieval`` proposes, a few hundred per mentee.

``cohort_edges`` is what a round hands to ``assignment.assign``. When mentors' seats barely
cover the mentees, each mentee's best mentors are not enough: the popular mentors fill up,
and a mentee nobody ranks first must still reach a mentor with a free seat, or both wait.
So besides each mentee's best mentors it adds, from the pairs weighed (candidates found from
the mentors' side too), each mentee's best mentors once seats are priced by an auction
(``pricing``): where it would go if the popular mentors were taken. Pricing and picking
look only at each mentee's and each mentor's best weighed pairs (``POOL_PER_MENTEE``,
``POOL_PER_MENTOR``), and the edges travel as columns (``assignment.EdgeTable``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import pairwise

import numpy as np
from numpy.typing import NDArray

from contracts.programmes import Programme
from services.matching import cores
from services.matching.assignment import Edge, EdgeTable
from services.matching.candidates import Candidate
from services.matching.pair_kernels import (
    KEY_FIELD,
    ByMentee,
    Columns,
    Rows,
    among_best,
    pool_marks,
    ranked,
    score_pairs,
    weigh_mentees,
)
from services.matching.pairwise import (
    DECIMALS,
    Bools,
    Ints,
    Round,
    build_round,
    distinct,
    places,
)
from services.matching.pricing import Offers, auction
from services.matching.retrieval import candidate_pairs

# Up to this many pairs, every pair is scored: it costs less than generating candidates.
EXHAUSTIVE_PAIRS = 1 << 21
# Pair keys pack (row, score, other row) into 63 bits: 21 bits each.
_FIELD = KEY_FIELD
_CEILING = DECIMALS + 16  # above any total: five contributions each rounded up at most
_MASK = (1 << _FIELD) - 1
# More edges for whoever the auction left without a seat, or with seats to spare.
LEFTOVER = 8
# Pairs the auction bids over, per mentee and per mentor.
OFFERED = 32
# Of the pairs weighed, a round prices and picks edges among each mentee's best
# ``POOL_PER_MENTEE`` and each mentor's best ``POOL_PER_MENTOR`` (at least; ties at the cut
# stay): deeper pairs are neither a mentee's best nor worth a bid, and ranking them all
# cost more than everything after.
POOL_PER_MENTEE = 64
POOL_PER_MENTOR = 200
# Scores are cut into buckets this wide (in millionths, a power of two) to find each
# owner's cut without sorting.
_BUCKET_BITS = 13


def shortlist(
    mentees: Sequence[Candidate],
    mentors: Sequence[Candidate],
    programme: Programme,
    *,
    managers: Mapping[str, str | None],
    declined: frozenset[tuple[str, str]],
    k: int,
) -> list[Edge]:
    """For each mentee, up to ``k`` eligible mentors with the best scores, best first (ties
    broken by mentor id), mentee by mentee in the order given. Every edge is eligible as
    ``scoring.ineligibility`` decides and carries ``scoring.score(...).total`` exactly.
    ``declined`` holds (mentor id, mentee id) pairs never to propose again."""
    round_ = _round(mentees, mentors, programme, managers, declined)
    if round_ is None or k <= 0:
        return []
    weighed = _weighed(round_, k, both_ways=False)
    ranking = _Ranking(
        weighed.mentee, weighed.mentor, weighed.score, weighed.mentors, depth=(weighed.mentees, k)
    )
    return _edges(round_, weighed, ranking.top(k)).edges()


def cohort_edges(
    mentees: Sequence[Candidate],
    mentors: Sequence[Candidate],
    programme: Programme,
    *,
    managers: Mapping[str, str | None],
    declined: frozenset[tuple[str, str]],
    capacities: Mapping[str, int],
    best: int,
    priced: int,
) -> EdgeTable:
    """The edges for ``assign``: each mentee's ``best`` mentors (``shortlist``'s), the seat an
    auction over ``capacities`` (free seats by mentor id) gave it, and its ``priced`` best
    mentors once each mentor's score is lowered by its seat price. Where the auction stopped
    short, mentees still without a seat and mentors with seats to spare get ``LEFTOVER``
    more, so the solver can finish what the auction started. Ordered by mentee, best first."""
    round_ = _round(mentees, mentors, programme, managers, declined)
    if round_ is None or max(best, priced) <= 0:
        nothing = np.zeros(0, dtype=np.int64)
        return EdgeTable([], [], nothing, nothing, nothing)
    weighed = _weighed(round_, max(best, priced), both_ways=priced > 0, pool=True)
    seats = np.array([max(0, capacities.get(p.person_id, 0)) for p in round_.mentors.people], dtype=np.int64)
    open_ = seats[weighed.mentor] > 0
    by_mentee, by_mentor = cores.both(
        lambda: _Ranking(
            weighed.mentee,
            weighed.mentor,
            weighed.score,
            weighed.mentors,
            depth=(weighed.mentees, max(best, OFFERED)),
        ),
        lambda: _Ranking(
            weighed.mentor[open_],
            weighed.mentee[open_],
            weighed.score[open_],
            weighed.mentors,
            by_mentor=True,
            depth=(weighed.mentors, max(OFFERED, LEFTOVER)),
        ),
    )
    chosen = [by_mentee.top(best)]
    if priced > 0:
        chosen.extend(_priced(weighed, by_mentee, by_mentor, seats, priced))
    return _edges(round_, weighed, distinct(np.concatenate(chosen)))


def _priced(
    weighed: _Weighed, by_mentee: _Ranking, by_mentor: _Ranking, seats: Ints, priced: int
) -> list[Ints]:
    """Pair keys chosen with seat prices: the auction's seats, each mentee's ``priced`` best
    at those prices, and ``LEFTOVER`` more for whoever the auction left over. ``by_mentor``
    ranks the pairs of mentors with seats."""
    open_ = seats[weighed.mentor] > 0
    # The auction bids over each mentee's and each mentor's best pairs: deeper ones hardly
    # ever win a bid, and leaving them out keeps its rounds short.
    offered = np.searchsorted(
        weighed.pairs(), distinct(np.concatenate([by_mentee.top(OFFERED), by_mentor.top(OFFERED)]))
    )
    offered = offered[open_[offered]]
    e, m, score = weighed.mentee[offered], weighed.mentor[offered], weighed.score[offered]
    outcome = auction(Offers.of(e, m, score, seats, weighed.mentees), seats)
    seated = np.flatnonzero(outcome.seat >= 0)
    discounted = weighed.score - outcome.price[weighed.mentor]
    keep = open_ & (discounted > 0)
    by_price = _Ranking(
        weighed.mentee[keep],
        weighed.mentor[keep],
        discounted[keep],
        weighed.mentors,
        depth=(weighed.mentees, max(priced, LEFTOVER)),
    )
    return [
        seated * weighed.mentors + outcome.seat[seated],
        by_price.top(priced),
        by_price.top(LEFTOVER, only=outcome.unseated),
        by_mentor.top(LEFTOVER, only=outcome.open_seats),
    ]


def _round(
    mentees: Sequence[Candidate],
    mentors: Sequence[Candidate],
    programme: Programme,
    managers: Mapping[str, str | None],
    declined: frozenset[tuple[str, str]],
) -> Round | None:
    # Inactive mentees and people without mentoring capacity are never eligible; the rest
    # count once each, mentors in id order so that row order is the tie-break order.
    active = _once_each(m for m in mentees if m.active)
    able = sorted(_once_each(m for m in mentors if m.mentor), key=lambda m: m.person_id)
    if not active or not able:
        return None
    if max(len(active), len(able)) >= 1 << _FIELD:
        raise ValueError(f"a round holds fewer than {1 << _FIELD} people on each side")
    return build_round(active, able, programme, managers=managers, declined=declined)


def _once_each(people: Iterable[Candidate]) -> list[Candidate]:
    """People in the order given, each person's first entry only."""
    first: dict[str, Candidate] = {}
    for person in people:
        first.setdefault(person.person_id, person)
    return list(first.values())


@dataclass(frozen=True)
class _Weighed:
    """Eligible pairs that were scored, in (mentee row, mentor row) order, with their totals
    in millionths."""

    mentee: Ints
    mentor: Ints
    score: Ints
    mentees: int  # in the round
    mentors: int

    def pairs(self) -> Ints:
        return self.mentee * self.mentors + self.mentor


def _among_best(owner: Ints, score: Ints, owners: int, keep: int) -> Bools:
    """Which pairs are among their owner's ``keep`` best, and others tied with the last
    of those to within a bucket: counting scores per bucket takes one pass where ranking
    every owner's pairs takes a sort."""
    return among_best(owner, score, owners, keep=keep, bits=_BUCKET_BITS, buckets=_BUCKETS, ceiling=_CEILING)


_BUCKETS = (_CEILING >> _BUCKET_BITS) + 1  # fewer than 256: a byte each


def _cut(counts: Ints, keep: int) -> NDArray[np.uint8]:
    """The first bucket (from the top) where each owner's count reaches ``keep``, else all."""
    reached = np.cumsum(counts, axis=1) >= keep
    return np.where(reached.any(axis=1), reached.argmax(axis=1), _BUCKETS - 1).astype(np.uint8)


@dataclass(frozen=True)
class _Part:
    """A range of mentees' weighed pairs, while a round cuts its pool (see ``_weighed``)."""

    mentee: Rows
    mentor: Rows
    score: Rows
    bucket: NDArray[np.uint8]
    among_mentees: Bools  # among the mentee's POOL_PER_MENTEE best
    mentor_counts: Ints  # (mentors, buckets)


def _weighed(round_: Round, per_mentee: int, *, both_ways: bool, pool: bool = False) -> _Weighed:
    """The eligible pairs, scored; with ``pool``, only those among their mentee's
    ``POOL_PER_MENTEE`` or their mentor's ``POOL_PER_MENTOR`` best (ties at the cut stay).

    The candidates are grouped by mentee (``ByMentee``); then each thread takes a range of
    mentees, whose pairs are made distinct, scored and cut apart (a mentor's counts summed
    over the ranges), and are in order once put side by side."""
    mentees, mentors = len(round_.mentees.person), len(round_.mentors.person)
    exhaustive = mentees * mentors <= EXHAUSTIVE_PAIRS or mentors <= per_mentee
    bounds = np.linspace(0, mentees, cores.WORKERS + 1).astype(np.int64)

    columns = Columns.of(round_)
    grouped = None
    if not exhaustive:
        grouped = ByMentee.of(list(candidate_pairs(round_, both_ways=both_ways)), mentees)

    def weigh(rows: tuple[int, int]) -> _Part:
        low, high = rows
        e: Rows
        m: Rows
        score: Rows
        if exhaustive:
            unique = np.arange(low * mentors, high * mentors, dtype=np.int64)
            e, m = unique // mentors, unique % mentors
            score, eligible = score_pairs(round_, columns, e, m, threads=False)
            e, m, score = e[eligible], m[eligible], score[eligible]
        else:
            assert grouped is not None
            e, m, score = weigh_mentees(round_, columns, grouped, low, high)
        if not pool:
            nothing = np.zeros(0, dtype=np.int64)
            return _Part(e, m, score, nothing.astype(np.uint8), nothing.astype(np.bool_), nothing)
        bucket, among, counts = pool_marks(
            e,
            m,
            score,
            mentors,
            keep=POOL_PER_MENTEE,
            bits=_BUCKET_BITS,
            buckets=_BUCKETS,
            ceiling=_CEILING,
        )
        return _Part(e, m, score, bucket, among, counts)

    parts = cores.mapped(weigh, list(pairwise(bounds.tolist())))
    if pool:
        cut = _cut(np.sum([part.mentor_counts for part in parts], axis=0), POOL_PER_MENTOR)

        def pooled(part: _Part) -> _Part:
            keep = part.among_mentees | (part.bucket <= cut[part.mentor])
            return replace(part, mentee=part.mentee[keep], mentor=part.mentor[keep], score=part.score[keep])

        parts = cores.mapped(pooled, parts)
    return _Weighed(
        # Scored in 32 bits (``weigh_mentees``), kept in 64: pair keys are products of rows.
        np.concatenate([part.mentee for part in parts], dtype=np.int64),
        np.concatenate([part.mentor for part in parts], dtype=np.int64),
        np.concatenate([part.score for part in parts], dtype=np.int64),
        mentees,
        mentors,
    )


class _Ranking:
    """Pairs ranked within each owner (a mentee or a mentor): score descending, ties to the
    lower row of the other side (id order for mentors). With a ``depth``, a compiled pass
    (``ranked``) keeps each owner's best and sorts them owner by owner; without, one sort of
    packed integers, read back instead of sorting indices, which is much slower."""

    def __init__(
        self,
        owner: Ints,
        other: Ints,
        score: Ints,
        mentors: int,
        *,
        by_mentor: bool = False,
        depth: tuple[int, int] | None = None,
    ) -> None:
        self.mentors = mentors
        self.by_mentor = by_mentor
        self.depth = None if depth is None else depth[1]
        if depth is not None:
            # Only ``top(limit)`` for limits up to ``depth[1]`` will be asked for (``depth[0]``
            # owners): counting scores in buckets keeps each owner's best that many and
            # their ties, so only those are sorted and every such top is the same.
            self.owner, self.other, self.place = ranked(
                owner,
                other,
                score,
                depth[0],
                keep=depth[1],
                bits=_BUCKET_BITS,
                buckets=_BUCKETS,
                ceiling=_CEILING,
            )
            return
        descending = _CEILING - np.clip(score, 0, _CEILING)
        keys = np.sort((owner << (2 * _FIELD)) | (descending << _FIELD) | other)
        self.owner = keys >> (2 * _FIELD)
        self.place = places(self.owner)
        self.other = keys & _MASK

    def top(self, limit: int, *, only: Bools | None = None) -> Ints:
        """Pair keys (mentee row × mentors + mentor row) of each owner's ``limit`` best, of
        the owners marked in ``only`` if given."""
        if self.depth is not None and limit > self.depth:
            raise ValueError(f"ranked {self.depth} deep, asked for {limit}")
        keep = self.place < limit
        if only is not None:
            keep &= only[self.owner]
        owner, other = self.owner[keep], self.other[keep]
        if self.by_mentor:
            return other * self.mentors + owner
        return owner * self.mentors + other


def _edges(round_: Round, weighed: _Weighed, chosen: Ints) -> EdgeTable:
    """Edges for the chosen pair keys, by mentee, best first, ties by mentor id."""
    where = np.searchsorted(weighed.pairs(), chosen)
    e, m, score = weighed.mentee[where], weighed.mentor[where], weighed.score[where]
    descending = _CEILING - score
    order = np.argsort((e << (2 * _FIELD)) | (descending << _FIELD) | m)
    return EdgeTable(
        [p.person_id for p in round_.mentees.people],
        [p.person_id for p in round_.mentors.people],
        e[order],
        m[order],
        score[order],
    )
