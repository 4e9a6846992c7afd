"""``pairwise``'s pair scoring as compiled loops (numba), for the pairs of a cohort round.

``pairwise`` scores pairs with numpy: a dozen passes over arrays of pairs, each gathering a
column for every pair, about half a microsecond of processor time per pair. Here one loop
does each pair start to finish, with the very integer lookups and the very float operations
in the very order ``pairwise`` uses (no fast-math: not one bit may differ), and
``ByMentee`` and ``weigh_mentees`` fold in what came before scoring: the candidate batches
grouped by mentee in a counting sort that reads them where they lie, then each mentee's
mentors made distinct by a mark per mentor seen, instead of putting tens of millions of
pair keys side by side and sorting them.

The loops run without the interpreter lock, so ``cores`` runs them side by side. Two rare
cases are handed back to ``pairwise`` pair by pair (the loops mark them): availability off
the half-hour grid, and a skill coverage computed in floats that lies within a hair of half
a millionth, which only Python's ``round`` settles.

Compiled code is cached on disk beside this file (or in the user's cache directory); where
neither can be written, the loops are compiled afresh in each process (``warm_up.warm``
does it ahead of the first round).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import numba
import numpy as np
from llvmlite import ir  # type: ignore[import-untyped]
from numba import types
from numba.extending import intrinsic
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

_KNOWN = HAS_LEVEL | HAS_AVAILABILITY | HAS_LANGUAGES | HAS_TEAM
_SLOT_CAP = -(-TARGET_OVERLAP_MINUTES // SLOT_MINUTES)
# Pairs per call of ``_score_in_order`` on a thread: large enough that calls cost nothing.
CHUNK = 1 << 18
# Pairs scored together per mentor of the round, at most, in ``weigh_mentees``: the more,
# the fewer times each mentor's record is fetched, until a block's mentees (a few hundred
# bytes each) no longer stay in the processor's cache.
BLOCK_MENTORS = 16
# Up to this many mentors, pairs are scored in key order: mentors' records (128 bytes each)
# and skill codes by term stay in the processor's last-level cache. Measured with 32-bit
# buffers at 25,000 mentors (``tests.benchmarks.cohort_scoring_order``): key order took
# 1.5 to 1.7 s of processor time for 40,000 mentees' candidates on two threads, mentor by
# mentor 2.3 to 2.6 s.
MENTORS_IN_CACHE = 1 << 15
_ONE = np.uint64(1)
Rows32 = NDArray[np.int32]
Rows = Ints | Rows32  # rows or totals in millionths, in 64 or 32 bits
# A ranking's packed keys: (score descending << KEY_FIELD) | the other side's row.
KEY_FIELD = 21
_FIELD_MASK = (1 << KEY_FIELD) - 1


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
    and mentors' skill codes twice: mentor by mentor, for pairs scored mentor by mentor (a
    mentee's goals lie close in term order), and term by term, for a mentee's pairs scored in
    mentor order (each goal's codes are then read along a row). Skill coverage is always
    present (empty without a table), so that every round compiles to the same machine code."""

    arrays: tuple[Any, ...]

    @staticmethod
    def of(round_: Round) -> Columns:
        mentees, mentors, skills, tables = round_.mentees, round_.mentors, round_.skills, round_.tables
        coverage = round_.coverage
        count = len(mentors.person)
        by_term = skills.codes.reshape(-1, count)
        by_term = by_term if by_term.dtype == np.uint8 else by_term.astype(np.int64)
        codes = np.ascontiguousarray(by_term.T)
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
                by_term,
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


def _ctpop(context: Any, word: Any) -> Any:
    """The bits set in a 64-bit word, as the processor's own instruction (LLVM's ``ctpop``):
    numba has no function for it, and LLVM did not always recognise the shifts and masks
    that spell it out."""

    def generate(codegen: Any, builder: Any, signature: Any, args: Any) -> Any:
        function = builder.module.declare_intrinsic("llvm.ctpop", [ir.IntType(64)])
        return builder.call(function, args)

    return types.uint64(types.uint64), generate


_bits_set = cast(Callable[[Any], Any], intrinsic(_ctpop))


@compiled
def _score_in_order(
    columns: Any,
    pair_e: Any,
    pair_m: Any,
    order: Any,
    totals: Any,
    eligible: Any,
    redo: Any,
    by_term: bool,
) -> None:  # pragma: no cover - compiled
    """For each pair, visited in ``order`` (places in ``pair_e`` and ``pair_m``): the total
    in millionths, whether eligible, and whether to redo it in ``pairwise``, as
    ``pairwise._slice`` computes them. The columns are unpacked once, out of the loop:
    unpacked per pair, their reference counts would cost more than the score. A mentee's
    words are read once for a run of its pairs, and its goals' skill codes looked up term by
    term when ``by_term`` (its mentors then come in order, so their codes lie side by side)."""
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
        codes_by_term,
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
    goal = np.zeros(mentee.shape[1] - goals_at + 1, dtype=np.int64)
    step = np.zeros(mentee.shape[1] - goals_at + 1, dtype=np.int64)
    spoken_words = np.zeros(languages, dtype=np.uint64)
    slot_bits = np.zeros(slot_words, dtype=np.uint64)
    last = -1
    mine = person = team = level = terms = base = count = 0
    offset = max_gap = 0.0
    for at in order:
        e = pair_e[at]
        m = pair_m[at]
        if e != last:
            last = e
            mine, person = mentee[e, _FLAGS], mentee[e, _PERSON]
            team, level = mentee[e, _TEAM], mentee[e, _LEVEL]
            offset, max_gap = mentee_floats[e, _OFFSET], mentee_floats[e, _MAX_GAP]
            terms, base, count = mentee[e, _TERMS], mentee[e, _BASE], mentee[e, _GOALS]
            for column in range(terms):
                goal[column] = mentee[e, goals_at + column]
                step[column] = steps[column] if has_coverage else 0
            for word in range(languages):
                spoken_words[word] = mentee_bits[e, _LANGUAGES + word]
            for word in range(slot_words):
                slot_bits[word] = mentee_bits[e, slots_at + word]
        theirs = mentor[m, _FLAGS]
        both = mine & theirs
        other_team = mentor[m, _TEAM]

        ok = person != mentor[m, _PERSON]
        ok = ok and ((theirs & EXTERNAL) == 0 or (mine & ACCEPTS_EXTERNAL) != 0)
        ok = ok and (team < 0 or team != other_team or (both & SAME_TEAM_ALLOWED) != 0)
        gap = abs(offset - mentor_floats[m, _OFFSET])
        ok = ok and not (gap > min(max_gap, mentor_floats[m, _MAX_GAP]))

        again = (both & HAS_AVAILABILITY) != 0 and (both & ON_GRID) == 0
        if has_coverage:
            index = base
            for column in range(terms):
                code = codes_by_term[goal[column], m] if by_term else codes[m, goal[column]]
                index += step[column] * np.int64(code)
            total = np.int64(millionths[index])
        else:
            # 0.0 plus each covered goal's weight in goal order, as ``_skill_millionths`` adds.
            covered = 0.0
            for column in range(terms):
                code = codes_by_term[goal[column], m] if by_term else codes[m, goal[column]]
                covered += weights[code]
            value = covered / count if count > 0 else NEUTRAL
            scaled = (share * value) * 1_000_000
            rounded = np.rint(scaled)
            if abs(abs(scaled - rounded) - 0.5) < 1e-6:
                again = True
            total = np.int64(rounded)

        shared = 0
        for word in range(slot_words):
            shared += int(_bits_set(slot_bits[word] & mentor_bits[m, slots_at + word]))
        slots = min(shared, _SLOT_CAP)
        spoken = False
        for word in range(languages):
            if (spoken_words[word] & mentor_bits[m, _LANGUAGES + word]) != 0:
                spoken = True
        level_gap = mentor[m, _LEVEL] - level
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


@compiled
def _count_by_mentee(mentee_batches: Any, counts: Any) -> None:  # pragma: no cover - compiled
    """``counts[row]`` raised by the pairs of each mentee row in the batches."""
    for rows in mentee_batches:
        for row in rows:
            counts[row] += 1


@compiled
def _place_by_mentee(
    mentee_batches: Any, mentor_batches: Any, cursor: Any, by_mentee: Any
) -> None:  # pragma: no cover - compiled
    """Each pair's mentor written at its mentee's ``cursor``, which moves on."""
    for batch in range(len(mentee_batches)):
        rows, mentors = mentee_batches[batch], mentor_batches[batch]
        for at in range(len(rows)):
            row = rows[at]
            by_mentee[cursor[row]] = mentors[at]
            cursor[row] += 1


@compiled
def _count_spans(mentees: Any, lo: Any, hi: Any, counts: Any) -> None:  # pragma: no cover - compiled
    """``counts[row]`` raised by the pairs of a ``Spans``."""
    for at in range(len(mentees)):
        counts[mentees[at]] += hi[at] - lo[at]


@compiled
def _place_spans(
    mentees: Any, lo: Any, hi: Any, mentors: Any, cursor: Any, by_mentee: Any
) -> None:  # pragma: no cover - compiled
    """A ``Spans``' mentors written at their mentee's ``cursor``, which moves on."""
    for at in range(len(mentees)):
        row = mentees[at]
        for place in range(lo[at], hi[at]):
            by_mentee[cursor[row]] = mentors[place]
            cursor[row] += 1


@dataclass(frozen=True)
class Spans:
    """Candidate pairs listed by reference: mentee row ``mentees[i]`` with each mentor row of
    ``mentors[lo[i]:hi[i]]``. Where many mentees share a run of mentors (those free at the
    same time), this is a few numbers per mentee instead of one pair per mentor."""

    mentees: Ints
    lo: Ints
    hi: Ints
    mentors: Ints

    def __len__(self) -> int:
        return int(np.sum(self.hi - self.lo))

    def spelled(self) -> tuple[Ints, Ints]:
        """The (mentee rows, mentor rows) pairs, in order."""
        counts = self.hi - self.lo
        offsets = np.repeat(np.cumsum(counts) - counts, counts)
        places = np.arange(int(counts.sum()), dtype=np.int64) - offsets + np.repeat(self.lo, counts)
        return np.repeat(self.mentees, counts), self.mentors[places]


Batch = tuple[Ints, Ints] | Spans  # (mentee rows, mentor rows), or pairs by reference


def spelled(batch: Batch) -> tuple[Ints, Ints]:
    """A batch's (mentee rows, mentor rows)."""
    return batch.spelled() if isinstance(batch, Spans) else batch


@dataclass(frozen=True)
class _Group:
    """Batches one thread groups, in order: each run of pair batches as two numba lists
    (one call for the run), each ``Spans`` on its own."""

    runs: list[tuple[Any, Any] | Spans]

    @staticmethod
    def of(batches: Sequence[Batch]) -> _Group:
        runs: list[tuple[Any, Any] | Spans] = []
        for spans, run in itertools.groupby(batches, key=lambda batch: isinstance(batch, Spans)):
            if spans:
                for b in cast(Iterator[Spans], run):
                    arrays = (b.mentees, b.lo, b.hi, b.mentors)
                    runs.append(Spans(*(np.ascontiguousarray(a, dtype=np.int64) for a in arrays)))
            else:
                pairs = list(cast(Iterator[tuple[Ints, Ints]], run))
                runs.append(
                    (
                        _typed([np.ascontiguousarray(e, dtype=np.int64) for e, _ in pairs]),
                        _typed([np.ascontiguousarray(m, dtype=np.int64) for _, m in pairs]),
                    )
                )
        return _Group(runs)

    def count(self, counts: Ints) -> None:
        for run in self.runs:
            if isinstance(run, Spans):
                _count_spans(run.mentees, run.lo, run.hi, counts)
            else:
                _count_by_mentee(run[0], counts)

    def place(self, cursor: Ints, by_mentee: NDArray[np.int32]) -> None:
        for run in self.runs:
            if isinstance(run, Spans):
                _place_spans(run.mentees, run.lo, run.hi, run.mentors, cursor, by_mentee)
            else:
                _place_by_mentee(run[0], run[1], cursor, by_mentee)


@dataclass(frozen=True)
class ByMentee:
    """Candidate pairs grouped by mentee, repeats allowed: mentee row ``r``'s mentor rows are
    ``mentors[starts[r]:starts[r + 1]]``."""

    mentors: NDArray[np.int32]
    starts: Ints

    @staticmethod
    def of(batches: Sequence[Batch], mentees: int) -> ByMentee:
        """The batches, grouped: a counting sort by mentee, the batches shared out over the
        cores in groups, each group writing its pairs after the earlier groups' pairs of the
        same mentee (so the order never depends on threads). The batches are read where
        they lie: putting them side by side first would copy tens of millions of pairs, and
        ``Spans`` are never spelled out."""
        sizes = np.array([len(batch) if isinstance(batch, Spans) else len(batch[0]) for batch in batches])
        # Groups of batches with about as many pairs each, in the order given.
        edges = np.searchsorted(np.cumsum(sizes), np.linspace(0, sizes.sum(), cores.WORKERS + 1)[1:-1])
        bounds = [0, *(int(edge) + 1 for edge in edges), len(batches)]
        groups = [_Group.of(batches[start:end]) for start, end in itertools.pairwise(bounds)]

        def count(group: _Group) -> Ints:
            counts = np.zeros(mentees, dtype=np.int64)
            group.count(counts)
            return counts

        counts = cores.mapped(count, groups)
        starts = np.zeros(mentees + 1, dtype=np.int64)
        np.cumsum(np.sum(counts, axis=0), out=starts[1:])
        cursors = np.cumsum([starts[:-1], *counts[:-1]], axis=0)
        by_mentee = np.empty(int(starts[-1]), dtype=np.int32)

        def place(at: int) -> None:
            groups[at].place(cursors[at], by_mentee)

        cores.each(place, range(len(groups)))
        return ByMentee(by_mentee, starts)


def _typed(arrays: list[Ints]) -> Any:
    """A numba list of the arrays (never empty, so that its type is known)."""
    return numba.typed.List(arrays or [np.zeros(0, dtype=np.int64)])


@compiled
def _weigh_mentees(
    columns: Any, by_mentee: Any, starts: Any, low: int, high: int, banned: Any, by_mentor: bool
) -> Any:  # pragma: no cover - compiled
    """The distinct pairs of mentees ``low`` to ``high`` (``ByMentee``'s columns) that are
    eligible and not ``banned`` (sorted keys mentee row × mentors + mentor row), in key
    order: mentee, mentor and score columns, and the places of the pairs to redo.

    Mentee by mentee, its mentors set bits in a bitmap of mentors, which read in order are
    its distinct mentors, sorted. Mentees are taken in blocks of about ``BLOCK_MENTORS``
    pairs per mentor of the round, whose pairs are scored mentor by mentor if
    ``by_mentor``: a mentor's record is then fetched from memory once per block, not once
    per pair."""
    mentors = len(columns[3])
    rows = high - low
    widest = 0
    for row in range(low, high):
        widest = max(widest, starts[row + 1] - starts[row])
    pairs = starts[high] - starts[low]
    bitmap = np.zeros((mentors + 63) // 64, dtype=np.uint64)
    block = BLOCK_MENTORS * mentors
    pair_e = np.empty(block + widest, dtype=np.int32)
    pair_m = np.empty(block + widest, dtype=np.int32)
    totals = np.empty(block + widest, dtype=np.int32)
    eligible = np.empty(block + widest, dtype=np.bool_)
    redo = np.empty(block + widest, dtype=np.bool_)
    order = np.empty(block + widest, dtype=np.int32)
    identity = np.arange(block + widest)
    by_e = np.empty(block + widest, dtype=np.int32)
    by_m = np.empty(block + widest, dtype=np.int32)
    by_total = np.empty(block + widest, dtype=np.int32)
    by_eligible = np.empty(block + widest, dtype=np.bool_)
    by_redo = np.empty(block + widest, dtype=np.bool_)
    per_mentor = np.empty(mentors + 1, dtype=np.int64)
    # Room for all the pairs, so never short; filled only as far as pairs are kept. Rows
    # (below 1 << 21) and totals (millionths) fit in 32 bits: at 100,000 mentees these are
    # hundreds of megabytes written and read again, so half the bytes is time.
    out_e = np.empty(pairs, dtype=np.int32)
    out_m = np.empty(pairs, dtype=np.int32)
    out_total = np.empty(pairs, dtype=np.int32)
    again = np.empty(pairs, dtype=np.int64)
    kept = 0
    redone = 0
    next_banned = np.searchsorted(banned, low * mentors)
    row = 0
    while row < rows:
        count = 0
        while row < rows and count < block:
            for at in range(starts[low + row], starts[low + row + 1]):
                m = by_mentee[at]
                bitmap[m >> 6] |= _ONE << np.uint64(m & 63)
            for word in range(len(bitmap)):
                bits = bitmap[word]
                if bits == 0:
                    continue
                bitmap[word] = 0
                while bits != 0:
                    pair_e[count] = low + row
                    # The place of the lowest bit set: the bits below it, counted.
                    pair_m[count] = word * 64 + int(_bits_set((bits & (~bits + _ONE)) - _ONE))
                    count += 1
                    bits &= bits - _ONE
            row += 1
        if not by_mentor:
            _score_in_order(columns, pair_e, pair_m, identity[:count], totals, eligible, redo, True)
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
            _score_in_order(columns, by_e, by_m, identity[:count], by_total, by_eligible, by_redo, False)
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


@inlined
def _run_cut(counts: Any, keep: int) -> int:  # pragma: no cover - compiled
    """The last bucket of one owner's run that still holds one of its ``keep`` best, from the
    run's counts per bucket (best first); the last bucket when the run has fewer."""
    reached = 0
    for b in range(len(counts)):
        reached += counts[b]
        if reached >= keep:
            return b
    return len(counts) - 1


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
        cut = _run_cut(mine, keep)
        for at in range(start, end):
            among[at] = bucket[at] <= cut
        mine[:] = 0
        start = end
    return bucket, among, by_bucket


def pool_marks(
    e: Rows, m: Rows, score: Rows, mentors: int, *, keep: int, bits: int, buckets: int, ceiling: int
) -> tuple[NDArray[np.uint8], Bools, Ints]:
    """Scores in buckets of ``1 << bits`` millionths, best first (``ceiling`` and above in
    bucket 0, 0 and below in the last): each pair's bucket, whether it is among its mentee's
    ``keep`` best (ties to within a bucket stay), and each mentor's pairs per bucket. The
    pairs are in mentee order."""
    bucket, among, by_bucket = _pool_marks(e, m, score, mentors, keep, bits, buckets, ceiling)
    return bucket, among, np.ascontiguousarray(by_bucket.T, dtype=np.int64)


@compiled
def _bucket_cuts(
    owner: Any, score: Any, owners: int, keep: int, bits: int, buckets: int, ceiling: int
) -> Any:  # pragma: no cover - compiled
    """Each pair's score bucket (0 the best), and each owner's last bucket that still holds
    one of its ``keep`` best: counted bucket-major, as in ``_pool_marks``."""
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
    return bucket, cut


@compiled
def _among_best(
    owner: Any, score: Any, owners: int, keep: int, bits: int, buckets: int, ceiling: int
) -> Any:  # pragma: no cover - compiled
    """``among_best``: two passes, one counting and one marking (counts bucket-major, as in
    ``_pool_marks``)."""
    bucket, cut = _bucket_cuts(owner, score, owners, keep, bits, buckets, ceiling)
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


@compiled
def _ranked(
    owner: Any, other: Any, score: Any, owners: int, keep: int, bits: int, buckets: int, ceiling: int
) -> Any:  # pragma: no cover - compiled
    """``ranked``: ``_among_best``'s cut, then the kept pairs placed by owner (a counting
    sort) as packed keys, each owner's few sorted on their own. Pairs already in owner
    order (a mentee's) are taken owner by owner instead, with one owner's counts at a time:
    the counts of every owner at once are tens of megabytes at 100,000 mentees."""
    ordered = True
    for at in range(1, len(owner)):
        if owner[at] < owner[at - 1]:
            ordered = False
            break
    if ordered:
        return _ranked_in_order(owner, other, score, keep, bits, buckets, ceiling)
    bucket, cut = _bucket_cuts(owner, score, owners, keep, bits, buckets, ceiling)
    starts = np.zeros(owners + 1, dtype=np.int64)
    for at in range(len(owner)):
        if bucket[at] <= cut[owner[at]]:
            starts[owner[at] + 1] += 1
    for row in range(owners):
        starts[row + 1] += starts[row]
    cursor = starts[:-1].copy()
    keys = np.empty(starts[owners], dtype=np.int64)
    for at in range(len(owner)):
        row = owner[at]
        if bucket[at] <= cut[row]:
            descending = ceiling - min(max(score[at], 0), ceiling)
            keys[cursor[row]] = (descending << KEY_FIELD) | other[at]
            cursor[row] += 1
    ranked_owner = np.empty(len(keys), dtype=np.int64)
    ranked_other = np.empty(len(keys), dtype=np.int64)
    place = np.empty(len(keys), dtype=np.int64)
    for row in range(owners):
        mine = keys[starts[row] : starts[row + 1]]
        mine.sort()
        for at in range(len(mine)):
            ranked_owner[starts[row] + at] = row
            ranked_other[starts[row] + at] = mine[at] & _FIELD_MASK
            place[starts[row] + at] = at
    return ranked_owner, ranked_other, place


@compiled
def _ranked_in_order(
    owner: Any, other: Any, score: Any, keep: int, bits: int, buckets: int, ceiling: int
) -> Any:  # pragma: no cover - compiled
    """``_ranked`` for pairs in owner order: each owner's run counted, cut and sorted."""
    counts = np.zeros(buckets, dtype=np.int64)
    keys = np.empty(len(owner), dtype=np.int64)
    ranked_owner = np.empty(len(owner), dtype=np.int64)
    ranked_other = np.empty(len(owner), dtype=np.int64)
    place = np.empty(len(owner), dtype=np.int64)
    kept = 0
    start = 0
    while start < len(owner):
        end = start
        while end < len(owner) and owner[end] == owner[start]:
            counts[buckets - 1 - (min(max(score[end], 0), ceiling) >> bits)] += 1
            end += 1
        cut = _run_cut(counts, keep)
        counts[:] = 0
        first = kept
        for at in range(start, end):
            value = min(max(score[at], 0), ceiling)
            if buckets - 1 - (value >> bits) <= cut:
                keys[kept] = ((ceiling - value) << KEY_FIELD) | other[at]
                kept += 1
        mine = keys[first:kept]
        mine.sort()
        for at in range(kept - first):
            ranked_owner[first + at] = owner[start]
            ranked_other[first + at] = mine[at] & _FIELD_MASK
            place[first + at] = at
        start = end
    return ranked_owner[:kept], ranked_other[:kept], place[:kept]


def ranked(
    owner: Ints, other: Ints, score: Ints, owners: int, *, keep: int, bits: int, buckets: int, ceiling: int
) -> tuple[Ints, Ints, Ints]:
    """The pairs among their owner's ``keep`` best (as ``among_best`` marks them), ranked:
    by owner, then score descending (clipped to 0 and ``ceiling``), then the other side's
    row; as (owner, other, place within the owner's ranking) columns. ``other`` rows are
    below ``1 << 21``."""
    result: tuple[Ints, Ints, Ints] = _ranked(
        np.ascontiguousarray(owner, dtype=np.int64),
        np.ascontiguousarray(other, dtype=np.int64),
        np.ascontiguousarray(score, dtype=np.int64),
        owners,
        keep,
        bits,
        buckets,
        ceiling,
    )
    return result


@compiled
def _promises(  # pragma: no cover - compiled
    share: Any, left: Any, of: Any, right: Any, estimate: Any, rows: Any, profile: Any, out: Any
) -> None:
    """``promises``: the means summed member by member in 64 bits, as ``reduceat`` adds
    them, then the products term by term in 32 bits, as numpy's passes add them."""
    clusters, terms = out.shape[0], left.shape[1]
    sums = np.zeros((clusters, terms), dtype=np.float64)
    sizes = np.zeros(clusters, dtype=np.float64)
    for member in range(left.shape[0]):
        cluster = of[member]
        sizes[cluster] += 1
        for term in range(terms):
            sums[cluster, term] += np.float64(left[member, term])
    means = np.empty((clusters, terms), dtype=np.float32)
    for cluster in range(clusters):
        for term in range(terms):
            means[cluster, term] = np.float32(sums[cluster, term] / sizes[cluster])
    for cluster in range(clusters):
        for column in range(right.shape[0]):
            total = np.float32(0)
            for term in range(terms):
                total += means[cluster, term] * right[column, term]
            out[cluster, column] = share * total + estimate[rows[column], profile[cluster]]


def promises(
    share: float,
    left: NDArray[np.float32],
    of: Ints,
    right: NDArray[np.float32],
    estimate: NDArray[np.float32],
    rows: Ints,
    profile: Ints,
) -> NDArray[np.float32]:
    """What each cluster of ``left``'s rows (cluster ``of`` each, numbered densely; cluster
    ``c`` of profile ``profile[c]``) promises each row of ``right`` (row ``rows[j]`` of
    ``estimate``): ``share`` times the cluster's mean vector against the row's, plus the
    estimate. To the bit what candidate generation's numpy gave: means of 64-bit sums,
    products summed term by term in float32 (a BLAS call rounds in another order), the
    estimate gathered and added; in one call instead of a dozen per goal and way."""
    out = np.empty((len(profile), right.shape[0]), dtype=np.float32)
    _promises(
        np.float32(share),
        np.ascontiguousarray(left, dtype=np.float32),
        np.ascontiguousarray(of, dtype=np.int64),
        np.ascontiguousarray(right, dtype=np.float32),
        np.ascontiguousarray(estimate, dtype=np.float32),
        np.ascontiguousarray(rows, dtype=np.int64),
        np.ascontiguousarray(profile, dtype=np.int64),
        out,
    )
    return out


@compiled
def _best_first(matrix: Any, part: Any, whole: bool, out: Any) -> None:  # pragma: no cover - compiled
    """``best_first``: a stable sort of each row's negated entries, as numpy's; every column
    in order where ``whole``."""
    values = np.empty(out.shape[1], dtype=matrix.dtype)
    for row in range(out.shape[0]):
        for at in range(out.shape[1]):
            values[at] = -matrix[row, at if whole else part[row, at]]
        order = np.argsort(values, kind="mergesort")
        for at in range(out.shape[1]):
            out[row, at] = order[at] if whole else part[row, order[at]]


def best_first(matrix: NDArray[np.floating], part: Ints | None = None) -> Ints:
    """Each row's columns ``part`` (all, in order, if None) ordered by their entries in
    ``matrix``, largest first and ties in ``part``'s order: ``take_along_axis(part,
    argsort(-take_along_axis(matrix, part), kind="stable"))`` by rows in one compiled call,
    which matters when candidate generation does it twice per goal, a few hundred small
    matrices a round."""
    whole = part is None
    part = np.zeros((1, 1), dtype=np.int64) if part is None else np.ascontiguousarray(part, dtype=np.int64)
    out = np.empty(matrix.shape if whole else part.shape, dtype=np.int64)
    _best_first(np.ascontiguousarray(matrix), part, whole, out)
    return out


def _redo(round_: Round, e: Rows, m: Rows, total: Rows, places: Ints) -> None:
    """The marked pairs' totals from ``pairwise`` itself (which works in 64 bits: a pair
    key of 32-bit rows would overflow)."""
    if len(places) == 0:
        return
    mentees, mentors = e[places].astype(np.int64), m[places].astype(np.int64)
    again, _ = _slice(round_, mentees, mentors)
    _measure_off_grid(round_, mentees, mentors, again)
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
        _score_in_order(
            columns.arrays, e[part], m[part], order, total[part], eligible[part], redo[part], True
        )

    cores.each(chunk, range(0, len(e), CHUNK), threads=threads)
    _redo(round_, e, m, total, np.flatnonzero(redo))
    eligible &= ~_banned_pairs(round_, e * len(round_.mentors.person) + m)
    return total, eligible


def weigh_mentees(
    round_: Round, columns: Columns, pairs: ByMentee, low: int, high: int, *, by_mentor: bool | None = None
) -> tuple[Rows32, Rows32, Rows32]:
    """The eligible distinct pairs of mentees ``low`` to ``high`` among ``pairs`` (repeats
    allowed), in (mentee, mentor) order, scored (rows and totals in 32 bits):
    ``distinct`` then ``pairwise.score_pairs`` and keeping the eligible, in one pass. Pairs
    are scored mentor by mentor (``by_mentor``) when there are more than ``MENTORS_IN_CACHE``
    mentors, unless told."""
    if by_mentor is None:
        by_mentor = len(round_.mentors.person) > MENTORS_IN_CACHE
    e, m, totals, again = _weigh_mentees(
        columns.arrays, pairs.mentors, pairs.starts, low, high, round_.banned, by_mentor
    )
    _redo(round_, e, m, totals, again)
    return e, m, totals
