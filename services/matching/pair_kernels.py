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
neither can be written, the loops are compiled afresh in each process (``warm`` does it
ahead of the first round).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import numba
import numpy as np

from contracts.profile import MatchingPreferences
from contracts.programmes import DEFAULT_PROGRAMMES
from services.matching import cores
from services.matching.candidates import Candidate
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
    _banned_pairs,
    _measure_off_grid,
    _slice,
    build_round,
)
from services.matching.scoring import NEUTRAL, TARGET_OVERLAP_MINUTES

F = TypeVar("F", bound=Callable[..., Any])

# Pair keys inside ``weigh_mentees`` put the mentee row above this many bits, the mentor's below.
KEY_BITS = 21
_KEY_MASK = (1 << KEY_BITS) - 1
_KNOWN = HAS_LEVEL | HAS_AVAILABILITY | HAS_LANGUAGES | HAS_TEAM
_SLOT_CAP = -(-TARGET_OVERLAP_MINUTES // SLOT_MINUTES)
# Pairs per call of ``score_many`` on a thread: large enough that calls cost nothing.
CHUNK = 1 << 18
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
    """A round's columns laid out for the loops: per row, contiguous (a pair reads one row
    of each side), and skill coverage always present (empty without a table) so that every
    round compiles to the same machine code."""

    arrays: tuple[Any, ...]

    @staticmethod
    def of(round_: Round) -> Columns:
        mentees, mentors, skills, tables = round_.mentees, round_.mentors, round_.skills, round_.tables
        coverage = round_.coverage
        empty = np.zeros(0, dtype=np.int64)
        width = max(1, skills.goals.shape[0])
        if coverage is not None:
            base, starts, steps, millionths = (
                coverage.base,
                _rows(coverage.starts.astype(np.int64), len(mentees.person)),
                coverage.steps.astype(np.int64),
                # Half the bytes of int64: the table is looked up at random, once per pair.
                coverage.millionths.astype(np.int32),
            )
        else:
            base, starts, steps = empty, np.zeros((0, width), np.int64), empty
            millionths = np.zeros(0, dtype=np.int32)
        return Columns(
            (
                mentees.person,
                mentees.flags,
                mentees.level,
                mentees.offset,
                mentees.team,
                mentees.max_gap,
                _rows(mentees.languages, len(mentees.person)),
                _rows(mentees.slots, len(mentees.person)),
                mentors.person,
                mentors.flags,
                mentors.level,
                mentors.offset,
                mentors.team,
                mentors.max_gap,
                _rows(mentors.languages, len(mentors.person)),
                _rows(mentors.slots, len(mentors.person)),
                _rows(skills.goals.astype(np.int64), len(mentees.person)),
                skills.goal_count.astype(np.int64),
                skills.term_count.astype(np.int64),
                skills.codes.astype(np.int64) if skills.codes.dtype != np.uint8 else skills.codes,
                skills.weights,
                coverage is not None,
                base,
                starts,
                steps,
                millionths,
                float(round_.shares[0]),
                int(round_.seniority[0]),
                int(round_.seniority[1]),
                tables.criteria,
            )
        )


def _rows(columns: np.ndarray[Any, Any], rows: int) -> np.ndarray[Any, Any]:
    """(fields, rows) as contiguous (rows, fields)."""
    return np.ascontiguousarray(columns.reshape(-1, rows).T)


@inlined
def _shared_slots(mine: Any, e: int, theirs: Any, m: int) -> int:  # pragma: no cover - compiled
    """Half-hour slots both rows touch. (Rows are read in place: a view of each row per
    pair costs more, in reference counts, than the count itself.)"""
    count = 0
    for word in range(mine.shape[1]):
        x = mine[e, word] & theirs[m, word]
        # Bits set, by halving sums (LLVM turns this into the processor's popcount).
        x = x - ((x >> _ONE) & _M1)
        x = (x & _M2) + ((x >> _TWO) & _M2)
        x = (x + (x >> _FOUR)) & _M4
        count += int((x * _H01) >> _BYTES)
    return count


@inlined
def _score_row(
    columns: Any, e: int, row_m: Any, totals: Any, eligible: Any, redo: Any
) -> None:  # pragma: no cover - compiled
    """For mentee ``e`` and each of the mentors ``row_m``: the total in millionths, whether
    eligible, and whether to redo it in ``pairwise``, as ``pairwise._slice`` computes them.
    The mentee's side is read once; the loop reads the mentors'."""
    (
        e_person,
        e_flags,
        e_level,
        e_offset,
        e_team,
        e_max_gap,
        e_languages,
        e_slots,
        m_person,
        m_flags,
        m_level,
        m_offset,
        m_team,
        m_max_gap,
        m_languages,
        m_slots,
        goals,
        goal_count,
        term_count,
        codes,
        weights,
        has_coverage,
        base,
        starts,
        steps,
        millionths,
        share,
        low,
        high,
        criteria,
    ) = columns
    mentors = len(m_person)
    person = e_person[e]
    mine = np.int64(e_flags[e])
    team = e_team[e]
    offset = e_offset[e]
    max_gap = e_max_gap[e]
    level = e_level[e]
    terms = term_count[e]
    count = goal_count[e]
    first = base[e] if has_coverage else 0
    for at in range(len(row_m)):
        m = row_m[at]
        theirs = np.int64(m_flags[m])
        both = mine & theirs
        other_team = m_team[m]

        ok = person != m_person[m]
        ok = ok and ((theirs & EXTERNAL) == 0 or (mine & ACCEPTS_EXTERNAL) != 0)
        ok = ok and (team < 0 or team != other_team or (both & SAME_TEAM_ALLOWED) != 0)
        gap = abs(offset - m_offset[m])
        ok = ok and not (gap > min(max_gap, m_max_gap[m]))

        again = (both & HAS_AVAILABILITY) != 0 and (both & ON_GRID) == 0
        if has_coverage:
            index = first
            for column in range(terms):
                index += steps[column] * np.int64(codes[starts[e, column] + m])
            total = np.int64(millionths[index])
        else:
            # 0.0 plus each covered goal's weight in goal order, as ``_skill_millionths`` adds.
            covered = 0.0
            for column in range(terms):
                covered += weights[codes[goals[e, column] * mentors + m]]
            value = covered / count if count > 0 else NEUTRAL
            scaled = (share * value) * 1_000_000
            rounded = np.rint(scaled)
            if abs(abs(scaled - rounded) - 0.5) < 1e-6:
                again = True
            total = np.int64(rounded)

        slots = min(_shared_slots(e_slots, e, m_slots, m), _SLOT_CAP)
        spoken = False
        for word in range(e_languages.shape[1]):
            if (e_languages[e, word] & m_languages[m, word]) != 0:
                spoken = True
        level_gap = m_level[m] - level
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
def _score_many(
    columns: Any, pair_e: Any, pair_m: Any, totals: Any, eligible: Any, redo: Any
) -> None:  # pragma: no cover - compiled
    """``_score_row`` over each run of pairs with the same mentee."""
    start = 0
    while start < len(pair_e):
        end = start + 1
        while end < len(pair_e) and pair_e[end] == pair_e[start]:
            end += 1
        _score_row(
            columns,
            pair_e[start],
            pair_m[start:end],
            totals[start:end],
            eligible[start:end],
            redo[start:end],
        )
        start = end


@inlined
def _lowest_bit(x: Any) -> int:  # pragma: no cover - compiled
    """The place of the lowest bit set in ``x`` (a word not 0): the bits below it, counted."""
    x = (x & (~x + _ONE)) - _ONE
    x = x - ((x >> _ONE) & _M1)
    x = (x & _M2) + ((x >> _TWO) & _M2)
    x = (x + (x >> _FOUR)) & _M4
    return int((x * _H01) >> _BYTES)


@compiled
def _weigh_mentees(columns: Any, keys: Any, low: int, high: int, banned: Any) -> Any:  # pragma: no cover
    """The distinct pairs among ``keys`` (mentee row << KEY_BITS | mentor row, mentees from
    ``low`` to ``high``, repeats allowed) that are eligible and not ``banned`` (sorted keys
    mentee row × mentors + mentor row), in key order: mentee, mentor and score columns, and
    the places of the pairs to redo.

    A counting sort by mentee; each mentee's mentors then set bits in a bitmap of mentors,
    which read in order are its distinct mentors, sorted; then all are scored together."""
    mentors = len(columns[8])
    rows = high - low
    starts = np.zeros(rows + 1, dtype=np.int64)
    for key in keys:
        starts[(key >> KEY_BITS) - low + 1] += 1
    for row in range(rows):
        starts[row + 1] += starts[row]
    by_mentee = np.empty(len(keys), dtype=np.int32)
    filled = starts[:-1].copy()
    for key in keys:
        row = (key >> KEY_BITS) - low
        by_mentee[filled[row]] = key & _KEY_MASK
        filled[row] += 1
    bitmap = np.zeros((mentors + 63) // 64, dtype=np.uint64)
    pair_e = np.empty(len(keys), dtype=np.int64)
    pair_m = np.empty(len(keys), dtype=np.int64)
    count = 0
    for row in range(rows):
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
    pair_e, pair_m = pair_e[:count], pair_m[:count]
    totals = np.empty(count, dtype=np.int64)
    eligible = np.empty(count, dtype=np.bool_)
    redo = np.empty(count, dtype=np.bool_)
    _score_many(columns, pair_e, pair_m, totals, eligible, redo)
    # Keep the eligible and not banned, moved down in place.
    again = np.empty(count, dtype=np.int64)
    kept = 0
    redone = 0
    next_banned = np.searchsorted(banned, low * mentors)
    for at in range(count):
        key = pair_e[at] * mentors + pair_m[at]
        while next_banned < len(banned) and banned[next_banned] < key:
            next_banned += 1
        if not eligible[at] or (next_banned < len(banned) and banned[next_banned] == key):
            continue
        pair_e[kept], pair_m[kept], totals[kept] = pair_e[at], pair_m[at], totals[at]
        if redo[at]:
            again[redone] = kept
            redone += 1
        kept += 1
    return pair_e[:kept], pair_m[:kept], totals[:kept], again[:redone]


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
        _score_many(columns.arrays, e[part], m[part], total[part], eligible[part], redo[part])

    chunks = range(0, len(e), CHUNK)
    if threads:
        cores.each(chunk, chunks)
    else:
        for start in chunks:
            chunk(start)
    _redo(round_, e, m, total, np.flatnonzero(redo))
    eligible &= ~_banned_pairs(round_, e * len(round_.mentors.person) + m)
    return total, eligible


def weigh_mentees(
    round_: Round, columns: Columns, keys: Ints, low: int, high: int
) -> tuple[Ints, Ints, Ints]:
    """The eligible distinct pairs among ``keys`` (mentee row << KEY_BITS | mentor row, for
    mentees ``low`` to ``high``, repeats allowed), in (mentee, mentor) order, scored:
    ``distinct`` then ``pairwise.score_pairs`` and keeping the eligible, in one pass."""
    e, m, totals, again = _weigh_mentees(columns.arrays, keys, low, high, round_.banned)
    _redo(round_, e, m, totals, again)
    return e, m, totals


def warm() -> None:
    """Compile the loops (or load them from the disk cache) on a round of two, so that the
    first real round does not pay for it: compiling takes seconds, loading well under one."""
    preferences = MatchingPreferences()

    def person(person_id: str, *, mentor: bool) -> Candidate:
        return Candidate(
            person_id=person_id,
            active=True,
            external=False,
            level_rank=2 + 2 * mentor,
            team=person_id,
            manager_id=None,
            utc_offset_hours=0.0,
            skills={"warm-up": 1.0} if mentor else {},
            goals=frozenset() if mentor else frozenset({"warm-up"}),
            interests=frozenset(),
            languages=frozenset({"en"}),
            availability=((0, 120),),
            mentor_capacity=int(mentor),
            mentee=not mentor,
            preferences=preferences,
            programmes=frozenset(),
        )

    round_ = build_round(
        [person("mentee", mentor=False)],
        [person("mentor", mentor=True)],
        DEFAULT_PROGRAMMES[0],
        managers={},
        declined=frozenset(),
    )
    columns = Columns.of(round_)
    one = np.zeros(1, dtype=np.int64)
    score_pairs(round_, columns, one, one, threads=False)
    weigh_mentees(round_, columns, one, 0, 1)
