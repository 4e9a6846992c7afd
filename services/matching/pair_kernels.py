"""``pairwise``'s pair scoring as compiled loops (numba), for the pairs of a cohort round.

``pairwise`` scores pairs with numpy: a dozen passes over arrays of pairs, each gathering a
column for every pair, about half a microsecond of processor time per pair. Here one loop
does each pair start to finish, with the very integer lookups and the very float operations
in the very order ``pairwise`` uses (no fast-math: not one bit may differ), and
``weigh_mentees`` folds in what came before scoring, making the pair keys of a range of
mentees distinct: a counting sort by mentee and a mark per mentor seen, instead of sorting
tens of millions of keys.

The loops run without the interpreter lock, so ``cores`` runs them side by side. Two rare
cases are handed back to ``pairwise`` pair by pair (the loops mark them): availability off
the half-hour grid, and a skill coverage computed in floats that lies within a hair of half
a millionth, which only Python's ``round`` settles.

Compiled code is cached on disk beside this file (or in the user's cache directory); where
neither can be written, the loops are compiled afresh in each process (``warm_up.warm``
does it ahead of the first round).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import numba
import numpy as np
from numpy.typing import NDArray

from services.matching import cores
from services.matching.pairwise import (
    ACCEPTS_EXTERNAL,
    EXTERNAL,
    HAS_AVAILABILITY,
    HAS_LANGUAGES,
    HAS_LEVEL,
    HAS_TEAM,
    ON_GRID,
    SAME_TEAM_ALLOWED,
    SLOT_MINUTES,
    Bools,
    Ints,
    Round,
    Side,
    _banned_pairs,
    _measure_off_grid,
    _slice,
)
from services.matching.scoring import NEUTRAL, TARGET_OVERLAP_MINUTES

F = TypeVar("F", bound=Callable[..., Any])

# Pair keys inside ``weigh_mentees`` put the mentee row above this many bits, the mentor's below.
KEY_BITS = 21
_KEY_MASK = (1 << KEY_BITS) - 1
_KNOWN = HAS_LEVEL | HAS_AVAILABILITY | HAS_LANGUAGES | HAS_TEAM
_SLOT_CAP = -(-TARGET_OVERLAP_MINUTES // SLOT_MINUTES)
# Pairs per call of ``_score_in_order`` on a thread: large enough that calls cost nothing.
CHUNK = 1 << 18
# Pairs scored together per mentor of the round, at most, in ``weigh_mentees``: the more,
# the fewer times each mentor's record is fetched, until a block's mentees (a few hundred
# bytes each) no longer stay in the processor's cache.
BLOCK_MENTORS = 16
# Up to this many mentors, their records (128 bytes each) stay in the processor's cache
# whatever the order, and pairs are scored in key order.
MENTORS_IN_CACHE = 4096
_M1 = np.uint64(0x5555555555555555)
_M2 = np.uint64(0x3333333333333333)
_M4 = np.uint64(0x0F0F0F0F0F0F0F0F)
_H01 = np.uint64(0x0101010101010101)
_ONE, _TWO, _FOUR, _BYTES = np.uint64(1), np.uint64(2), np.uint64(4), np.uint64(56)


def compiled(function: F) -> F:
    """``function`` compiled without the interpreter lock, cached on disk where that can be
    written (numba refuses caching at decoration when no cache directory is writable)."""
    try:
        return cast(F, numba.njit(cache=True, nogil=True)(function))
    except RuntimeError:
        return cast(F, numba.njit(cache=False, nogil=True)(function))


def inlined(function: F) -> F:
    """``function`` compiled into each loop that calls it: a call would pass (and count
    references to) all of a round's columns for every pair."""
    return cast(F, numba.njit(inline="always")(function))


@dataclass(frozen=True)
class Columns:
    """A round's columns laid out for the loops: each person's as one record of words, read
    as integers, floats or bits through three views of it (a round's pairs reach people all
    over, and a cache line missed costs more than scoring: a mentor's record is two lines),
    and mentors' skill codes mentor by mentor (a mentee's goals lie close in term order).
    Skill coverage is always present (empty without a table), so that every round compiles
    to the same machine code."""

    arrays: tuple[Any, ...]

    @staticmethod
    def of(round_: Round) -> Columns:
        mentees, mentors, skills, tables = round_.mentees, round_.mentors, round_.skills, round_.tables
        coverage = round_.coverage
        count = len(mentors.person)
        codes = skills.codes.reshape(-1, count).T
        codes = np.ascontiguousarray(codes if codes.dtype == np.uint8 else codes.astype(np.int64))
        if coverage is not None:
            base, steps = coverage.base, coverage.steps.astype(np.int64)
            # Half the bytes of int64: the table is looked up at random, once per pair.
            millionths = coverage.millionths.astype(np.int32)
        else:
            base, steps = np.zeros(len(mentees.person), np.int64), np.zeros(0, np.int64)
            millionths = np.zeros(0, dtype=np.int32)
        goals = (skills.goals, skills.term_count, skills.goal_count, base)
        mentee_record = _record(mentees, *goals)
        mentor_record = _record(mentors, None, None, None, None)
        return Columns(
            (
                mentee_record,
                mentee_record.view(np.float64),
                mentee_record.view(np.uint64),
                mentor_record,
                mentor_record.view(np.float64),
                mentor_record.view(np.uint64),
                mentees.languages.shape[0],
                mentees.slots.shape[0],
                codes,
                skills.weights,
                coverage is not None,
                steps,
                millionths,
                float(round_.shares[0]),
                int(round_.seniority[0]),
                int(round_.seniority[1]),
                tables.criteria,
            )
        )


# Words of a record (``Columns``); then the person's languages' words, its slots' words
# and, for a mentee, its goals as terms.
_PERSON, _FLAGS, _LEVEL, _TEAM, _OFFSET, _MAX_GAP, _BASE, _TERMS, _GOALS, _LANGUAGES = range(10)


def _record(
    side: Side, goals: Ints | None, terms: Ints | None, count: Ints | None, base: Ints | None
) -> Ints:
    rows = len(side.person)
    languages, slots = side.languages.shape[0], side.slots.shape[0]
    width = _LANGUAGES + languages + slots + (0 if goals is None else goals.shape[0])
    record = np.zeros((rows, -(-width // 8) * 8), dtype=np.int64)  # whole cache lines
    record[:, _PERSON] = side.person
    record[:, _FLAGS] = side.flags
    record[:, _LEVEL] = side.level
    record[:, _TEAM] = side.team
    record.view(np.float64)[:, _OFFSET] = side.offset
    record.view(np.float64)[:, _MAX_GAP] = side.max_gap
    bits = record.view(np.uint64)
    bits[:, _LANGUAGES : _LANGUAGES + languages] = side.languages.T
    bits[:, _LANGUAGES + languages : _LANGUAGES + languages + slots] = side.slots.T
    if goals is not None and terms is not None and count is not None and base is not None:
        record[:, _BASE], record[:, _TERMS], record[:, _GOALS] = base, terms, count
        record[:, _LANGUAGES + languages + slots : width] = goals.T
    return record


@inlined
def _shared_slots(mine: Any, e: int, theirs: Any, m: int, first: int, words: int) -> int:  # pragma: no cover
    """Half-hour slots both touch: ``words`` words from word ``first`` of each record.
    (Read in place: a view of each row per pair costs more, in reference counts, than the
    count itself.)"""
    count = 0
    for word in range(first, first + words):
        x = mine[e, word] & theirs[m, word]
        # Bits set, by halving sums (LLVM turns this into the processor's popcount).
        x = x - ((x >> _ONE) & _M1)
        x = (x & _M2) + ((x >> _TWO) & _M2)
        x = (x + (x >> _FOUR)) & _M4
        count += int((x * _H01) >> _BYTES)
    return count


@compiled
def _score_in_order(
    columns: Any, pair_e: Any, pair_m: Any, order: Any, totals: Any, eligible: Any, redo: Any
) -> None:  # pragma: no cover - compiled
    """For each pair, visited in ``order`` (places in ``pair_e`` and ``pair_m``): the total
    in millionths, whether eligible, and whether to redo it in ``pairwise``, as
    ``pairwise._slice`` computes them. The columns are unpacked once, out of the loop:
    unpacked per pair, their reference counts would cost more than the score."""
    (
        mentee,
        mentee_floats,
        mentee_bits,
        mentor,
        mentor_floats,
        mentor_bits,
        languages,
        slot_words,
        codes,
        weights,
        has_coverage,
        steps,
        millionths,
        share,
        low,
        high,
        criteria,
    ) = columns
    slots_at = _LANGUAGES + languages
    goals_at = slots_at + slot_words
    for at in order:
        e = pair_e[at]
        m = pair_m[at]
        mine = mentee[e, _FLAGS]
        team = mentee[e, _TEAM]
        theirs = mentor[m, _FLAGS]
        both = mine & theirs
        other_team = mentor[m, _TEAM]

        ok = mentee[e, _PERSON] != mentor[m, _PERSON]
        ok = ok and ((theirs & EXTERNAL) == 0 or (mine & ACCEPTS_EXTERNAL) != 0)
        ok = ok and (team < 0 or team != other_team or (both & SAME_TEAM_ALLOWED) != 0)
        gap = abs(mentee_floats[e, _OFFSET] - mentor_floats[m, _OFFSET])
        ok = ok and not (gap > min(mentee_floats[e, _MAX_GAP], mentor_floats[m, _MAX_GAP]))

        again = (both & HAS_AVAILABILITY) != 0 and (both & ON_GRID) == 0
        terms = mentee[e, _TERMS]
        if has_coverage:
            index = mentee[e, _BASE]
            for column in range(terms):
                index += steps[column] * np.int64(codes[m, mentee[e, goals_at + column]])
            total = np.int64(millionths[index])
        else:
            # 0.0 plus each covered goal's weight in goal order, as ``_skill_millionths`` adds.
            covered = 0.0
            for column in range(terms):
                covered += weights[codes[m, mentee[e, goals_at + column]]]
            count = mentee[e, _GOALS]
            value = covered / count if count > 0 else NEUTRAL
            scaled = (share * value) * 1_000_000
            rounded = np.rint(scaled)
            if abs(abs(scaled - rounded) - 0.5) < 1e-6:
                again = True
            total = np.int64(rounded)

        slots = min(_shared_slots(mentee_bits, e, mentor_bits, m, slots_at, slot_words), _SLOT_CAP)
        spoken = False
        for word in range(_LANGUAGES, slots_at):
            if (mentee_bits[e, word] & mentor_bits[m, word]) != 0:
                spoken = True
        level_gap = mentor[m, _LEVEL] - mentee[e, _LEVEL]
        distance = min(max(max(low - level_gap, level_gap - high), 0), 3)
        index = (
            np.int64(team != other_team)
            | (np.int64(spoken) << 1)
            | (np.int64(slots) << 2)
            | (np.int64(distance) << 5)
            | (((~both) & _KNOWN) << 7)
        )
        totals[at] = total + criteria[index]
        eligible[at] = ok
        redo[at] = again


@inlined
def _lowest_bit(x: Any) -> int:  # pragma: no cover - compiled
    """The place of the lowest bit set in ``x`` (a word not 0): the bits below it, counted."""
    x = (x & (~x + _ONE)) - _ONE
    x = x - ((x >> _ONE) & _M1)
    x = (x & _M2) + ((x >> _TWO) & _M2)
    x = (x + (x >> _FOUR)) & _M4
    return int((x * _H01) >> _BYTES)


@compiled
def _weigh_mentees(
    columns: Any, keys: Any, low: int, high: int, banned: Any, by_mentor: bool
) -> Any:  # pragma: no cover - compiled
    """The distinct pairs among ``keys`` (mentee row << KEY_BITS | mentor row, mentees from
    ``low`` to ``high``, repeats allowed) that are eligible and not ``banned`` (sorted keys
    mentee row × mentors + mentor row), in key order: mentee, mentor and score columns, and
    the places of the pairs to redo.

    A counting sort by mentee; then, mentee by mentee, its mentors set bits in a bitmap of
    mentors, which read in order are its distinct mentors, sorted. Mentees are taken in
    blocks of about ``BLOCK_MENTORS`` pairs per mentor of the round, whose pairs are scored
    mentor by mentor if ``by_mentor``: a mentor's record is then fetched from memory once
    per block, not once per pair."""
    mentors = len(columns[3])
    rows = high - low
    starts = np.zeros(rows + 1, dtype=np.int64)
    for key in keys:
        starts[(key >> KEY_BITS) - low + 1] += 1
    widest = 0
    for row in range(rows):
        widest = max(widest, starts[row + 1])
        starts[row + 1] += starts[row]
    by_mentee = np.empty(len(keys), dtype=np.int32)
    filled = starts[:-1].copy()
    for key in keys:
        row = (key >> KEY_BITS) - low
        by_mentee[filled[row]] = key & _KEY_MASK
        filled[row] += 1
    bitmap = np.zeros((mentors + 63) // 64, dtype=np.uint64)
    block = BLOCK_MENTORS * mentors
    pair_e = np.empty(block + widest, dtype=np.int64)
    pair_m = np.empty(block + widest, dtype=np.int64)
    totals = np.empty(block + widest, dtype=np.int64)
    eligible = np.empty(block + widest, dtype=np.bool_)
    redo = np.empty(block + widest, dtype=np.bool_)
    order = np.empty(block + widest, dtype=np.int64)
    identity = np.arange(block + widest)
    by_e = np.empty(block + widest, dtype=np.int64)
    by_m = np.empty(block + widest, dtype=np.int64)
    by_total = np.empty(block + widest, dtype=np.int64)
    by_eligible = np.empty(block + widest, dtype=np.bool_)
    by_redo = np.empty(block + widest, dtype=np.bool_)
    per_mentor = np.empty(mentors + 1, dtype=np.int64)
    # Room for all the keys, so never short; filled only as far as pairs are kept.
    out_e = np.empty(len(keys), dtype=np.int64)
    out_m = np.empty(len(keys), dtype=np.int64)
    out_total = np.empty(len(keys), dtype=np.int64)
    again = np.empty(len(keys), dtype=np.int64)
    kept = 0
    redone = 0
    next_banned = np.searchsorted(banned, low * mentors)
    row = 0
    while row < rows:
        count = 0
        while row < rows and count < block:
            for at in range(starts[row], starts[row + 1]):
                m = by_mentee[at]
                bitmap[m >> 6] |= _ONE << np.uint64(m & 63)
            for word in range(len(bitmap)):
                bits = bitmap[word]
                if bits == 0:
                    continue
                bitmap[word] = 0
                while bits != 0:
                    pair_e[count] = low + row
                    pair_m[count] = word * 64 + _lowest_bit(bits)
                    count += 1
                    bits &= bits - _ONE
            row += 1
        if not by_mentor:
            _score_in_order(columns, pair_e, pair_m, identity[:count], totals, eligible, redo)
        else:
            # The block's pairs by mentor (a counting sort), copied out in that order and
            # scored there, their results put back: copies read in order cost less than
            # reading the pairs at random.
            per_mentor[:] = 0
            for at in range(count):
                per_mentor[pair_m[at] + 1] += 1
            for m in range(mentors):
                per_mentor[m + 1] += per_mentor[m]
            for at in range(count):
                m = pair_m[at]
                place = per_mentor[m]
                order[place], by_e[place], by_m[place] = at, pair_e[at], m
                per_mentor[m] += 1
            _score_in_order(columns, by_e, by_m, identity[:count], by_total, by_eligible, by_redo)
            for place in range(count):
                at = order[place]
                totals[at], eligible[at], redo[at] = by_total[place], by_eligible[place], by_redo[place]
        for at in range(count):
            key = pair_e[at] * mentors + pair_m[at]
            while next_banned < len(banned) and banned[next_banned] < key:
                next_banned += 1
            if not eligible[at] or (next_banned < len(banned) and banned[next_banned] == key):
                continue
            out_e[kept], out_m[kept], out_total[kept] = pair_e[at], pair_m[at], totals[at]
            if redo[at]:
                again[redone] = kept
                redone += 1
            kept += 1
    return out_e[:kept], out_m[:kept], out_total[:kept], again[:redone]


@compiled
def _pool_marks(
    e: Any, m: Any, score: Any, mentors: int, keep: int, bits: int, buckets: int, ceiling: int
) -> Any:  # pragma: no cover - compiled
    """``pool_marks``, with ``e`` in order; the counts bucket-major (scores crowd into a few
    buckets, so the counts written at random stay in a few megabytes of cache)."""
    bucket = np.empty(len(e), dtype=np.uint8)
    among = np.empty(len(e), dtype=np.bool_)
    by_bucket = np.zeros((buckets, mentors), dtype=np.int32)
    mine = np.zeros(buckets, dtype=np.int64)
    start = 0
    while start < len(e):
        end = start
        while end < len(e) and e[end] == e[start]:
            value = min(max(score[end], 0), ceiling)
            b = buckets - 1 - (value >> bits)
            bucket[end] = b
            mine[b] += 1
            by_bucket[b, m[end]] += 1
            end += 1
        cut = buckets - 1
        reached = 0
        for b in range(buckets):
            reached += mine[b]
            if reached >= keep:
                cut = b
                break
        for at in range(start, end):
            among[at] = bucket[at] <= cut
        mine[:] = 0
        start = end
    return bucket, among, by_bucket


def pool_marks(
    e: Ints, m: Ints, score: Ints, mentors: int, *, keep: int, bits: int, buckets: int, ceiling: int
) -> tuple[NDArray[np.uint8], Bools, Ints]:
    """Scores in buckets of ``1 << bits`` millionths, best first (``ceiling`` and above in
    bucket 0, 0 and below in the last): each pair's bucket, whether it is among its mentee's
    ``keep`` best (ties to within a bucket stay), and each mentor's pairs per bucket. The
    pairs are in mentee order."""
    bucket, among, by_bucket = _pool_marks(e, m, score, mentors, keep, bits, buckets, ceiling)
    return bucket, among, np.ascontiguousarray(by_bucket.T, dtype=np.int64)


@compiled
def _among_best(
    owner: Any, score: Any, owners: int, keep: int, bits: int, buckets: int, ceiling: int
) -> Any:  # pragma: no cover - compiled
    """``among_best``: two passes, one counting and one marking (counts bucket-major, as in
    ``_pool_marks``)."""
    counts = np.zeros((buckets, owners), dtype=np.int32)
    bucket = np.empty(len(owner), dtype=np.uint8)
    for at in range(len(owner)):
        b = buckets - 1 - (min(max(score[at], 0), ceiling) >> bits)
        bucket[at] = b
        counts[b, owner[at]] += 1
    cut = np.full(owners, buckets - 1, dtype=np.int64)
    reached = np.zeros(owners, dtype=np.int64)
    done = np.zeros(owners, dtype=np.bool_)
    for b in range(buckets):
        for row in range(owners):
            if not done[row]:
                reached[row] += counts[b, row]
                if reached[row] >= keep:
                    cut[row] = b
                    done[row] = True
    among = np.empty(len(owner), dtype=np.bool_)
    for at in range(len(owner)):
        among[at] = bucket[at] <= cut[owner[at]]
    return among


def among_best(
    owner: Ints, score: Ints, owners: int, *, keep: int, bits: int, buckets: int, ceiling: int
) -> Bools:
    """Which pairs are among their owner's ``keep`` best, and those tied with the last of
    them to within a bucket (as ``pool_marks`` buckets scores)."""
    among: Bools = _among_best(owner, score, owners, keep, bits, buckets, ceiling)
    return among


def _redo(round_: Round, e: Ints, m: Ints, total: Ints, places: Ints) -> None:
    """The marked pairs' totals from ``pairwise`` itself."""
    if len(places) == 0:
        return
    again, _ = _slice(round_, e[places], m[places])
    _measure_off_grid(round_, e[places], m[places], again)
    total[places] = again


def score_pairs(
    round_: Round, columns: Columns, mentee_rows: Ints, mentor_rows: Ints, *, threads: bool = True
) -> tuple[Ints, Bools]:
    """``pairwise.score_pairs``, compiled: the same totals and verdicts."""
    e = np.ascontiguousarray(mentee_rows, dtype=np.int64)
    m = np.ascontiguousarray(mentor_rows, dtype=np.int64)
    total = np.empty(len(e), dtype=np.int64)
    eligible = np.empty(len(e), dtype=np.bool_)
    redo = np.empty(len(e), dtype=np.bool_)

    def chunk(start: int) -> None:
        part = slice(start, start + CHUNK)
        order = np.arange(len(e[part]), dtype=np.int64)
        _score_in_order(columns.arrays, e[part], m[part], order, total[part], eligible[part], redo[part])

    cores.each(chunk, range(0, len(e), CHUNK), threads=threads)
    _redo(round_, e, m, total, np.flatnonzero(redo))
    eligible &= ~_banned_pairs(round_, e * len(round_.mentors.person) + m)
    return total, eligible


def weigh_mentees(
    round_: Round, columns: Columns, keys: Ints, low: int, high: int, *, by_mentor: bool | None = None
) -> tuple[Ints, Ints, Ints]:
    """The eligible distinct pairs among ``keys`` (mentee row << KEY_BITS | mentor row, for
    mentees ``low`` to ``high``, repeats allowed), in (mentee, mentor) order, scored:
    ``distinct`` then ``pairwise.score_pairs`` and keeping the eligible, in one pass. Pairs
    are scored mentor by mentor (``by_mentor``) when there are more than ``MENTORS_IN_CACHE``
    mentors, unless told."""
    if by_mentor is None:
        by_mentor = len(round_.mentors.person) > MENTORS_IN_CACHE
    e, m, totals, again = _weigh_mentees(columns.arrays, keys, low, high, round_.banned, by_mentor)
    _redo(round_, e, m, totals, again)
    return e, m, totals
