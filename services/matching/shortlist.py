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
(``pricing``): where it would go if the popular mentors were taken.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from contracts.programmes import Programme
from services.matching.assignment import Edge
from services.matching.candidates import Candidate
from services.matching.pairwise import DECIMALS, Bools, Ints, Round, build_round, score_pairs
from services.matching.pricing import Offers, auction
from services.matching.retrieval import candidate_pairs

# Up to this many pairs, every pair is scored: it costs less than generating candidates.
EXHAUSTIVE_PAIRS = 1 << 21
# Pair keys pack (row, score, other row) into 63 bits: 21 bits each.
_FIELD = 21
_CEILING = DECIMALS + 16  # above any total: five contributions each rounded up at most
_MASK = (1 << _FIELD) - 1
# More edges for whoever the auction left without a seat, or with seats to spare.
LEFTOVER = 10


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
    return _edges(round_, weighed, _best_by_mentee(weighed, weighed.score, k, positive=False))


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
) -> list[Edge]:
    """The edges for ``assign``: each mentee's ``best`` mentors (``shortlist``'s), the seat an
    auction over ``capacities`` (free seats by mentor id) gave it, and its ``priced`` best
    mentors once each mentor's score is lowered by its seat price. Where the auction stopped
    short, mentees still without a seat and mentors with seats to spare get ``LEFTOVER``
    more, so the solver can finish what the auction started. Ordered by mentee, best first."""
    round_ = _round(mentees, mentors, programme, managers, declined)
    if round_ is None or max(best, priced) <= 0:
        return []
    weighed = _weighed(round_, max(best, priced), both_ways=priced > 0)
    chosen = [_best_by_mentee(weighed, weighed.score, best, positive=False)]
    if priced > 0:
        seats = np.array(
            [max(0, capacities.get(p.person_id, 0)) for p in round_.mentors.people], dtype=np.int64
        )
        outcome = auction(Offers.of(weighed.mentee, weighed.mentor, weighed.score, seats), seats)
        # A mentor without a free seat is no alternative, whatever its price.
        discounted = np.where(seats[weighed.mentor] > 0, weighed.score - outcome.price[weighed.mentor], -1)
        seated = np.flatnonzero(outcome.seat >= 0)
        chosen.append(seated * weighed.mentors + outcome.seat[seated])
        chosen.append(_best_by_mentee(weighed, discounted, priced))
        chosen.append(_best_by_mentee(weighed, discounted, LEFTOVER, only=outcome.unseated[weighed.mentee]))
        chosen.append(_best_by_mentor(weighed, LEFTOVER, only=outcome.open_seats[weighed.mentor]))
    return _edges(round_, weighed, np.unique(np.concatenate(chosen)))


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
    mentors: int

    def pairs(self) -> Ints:
        return self.mentee * self.mentors + self.mentor


def _weighed(round_: Round, per_mentee: int, *, both_ways: bool) -> _Weighed:
    mentees, mentors = len(round_.mentees.person), len(round_.mentors.person)
    if mentees * mentors <= EXHAUSTIVE_PAIRS or mentors <= per_mentee:
        keys = np.arange(mentees * mentors, dtype=np.int64)
    else:
        batches = list(candidate_pairs(round_, both_ways=both_ways))
        keys = np.sort(np.concatenate([e * mentors + m for e, m in batches]))
        keys = keys[np.flatnonzero(np.diff(keys, prepend=-1))]  # each pair once
    e, m = keys // mentors, keys % mentors
    score, eligible = score_pairs(round_, e, m)
    return _Weighed(e[eligible], m[eligible], score[eligible], mentors)


def _best_by_mentee(
    weighed: _Weighed, score: Ints, limit: int, *, positive: bool = True, only: Bools | None = None
) -> Ints:
    """Pair keys (mentee row × mentors + mentor row) of each mentee's ``limit`` best pairs
    by ``score`` (ties: mentor row, which is id order); only those scoring above zero if
    ``positive``, and only pairs marked in ``only`` if given."""
    keep = score > (0 if positive else -1)
    if only is not None:
        keep &= only
    e, m = weighed.mentee[keep], weighed.mentor[keep]
    return _pick(e, m, score[keep], limit, weighed.mentors)


def _best_by_mentor(weighed: _Weighed, limit: int, *, only: Bools) -> Ints:
    """Pair keys of each marked mentor's ``limit`` best pairs (ties: mentee row)."""
    keep = only & (weighed.score > 0)
    m, e = weighed.mentor[keep], weighed.mentee[keep]
    owner_first = _pick(m, e, weighed.score[keep], limit, 1 << _FIELD)
    return (owner_first & _MASK) * weighed.mentors + (owner_first >> _FIELD)


def _pick(owner: Ints, other: Ints, score: Ints, limit: int, width: int) -> Ints:
    """owner × width + other for each owner's ``limit`` best (score, then lower other)."""
    if limit <= 0 or len(owner) == 0:
        return np.zeros(0, dtype=np.int64)
    # Sorting packed integers orders by owner, then score descending, then the other row;
    # reading the fields back is much faster than sorting indices.
    descending = _CEILING - np.clip(score, 0, _CEILING)
    keys = np.sort((owner << (2 * _FIELD)) | (descending << _FIELD) | other)
    owners = keys >> (2 * _FIELD)
    place = np.arange(len(keys)) - np.searchsorted(owners, owners)
    kept = keys[place < limit]
    return (kept >> (2 * _FIELD)) * width + (kept & _MASK)


def _edges(round_: Round, weighed: _Weighed, chosen: Ints) -> list[Edge]:
    """Edges for the chosen pair keys, by mentee, best first, ties by mentor id."""
    where = np.searchsorted(weighed.pairs(), chosen)
    e, m, score = weighed.mentee[where], weighed.mentor[where], weighed.score[where]
    descending = _CEILING - score
    order = np.argsort((e << (2 * _FIELD)) | (descending << _FIELD) | m)
    mentee_ids = [p.person_id for p in round_.mentees.people]
    mentor_ids = [p.person_id for p in round_.mentors.people]
    return list(
        map(
            Edge,
            [mentee_ids[i] for i in e[order].tolist()],
            [mentor_ids[j] for j in m[order].tolist()],
            (score[order] / DECIMALS).tolist(),
        )
    )
