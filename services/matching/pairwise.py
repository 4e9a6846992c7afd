"""``scoring``'s eligibility and score for millions of pairs at once.

A cohort round weighs every waiting mentee against many mentors. ``scoring.score`` builds an
explained breakdown per pair, which is what a proposal publishes but far too slow to rank a
large cohort, so this module turns each side of the round into columns once (numpy arrays)
and computes, for arrays of pair indices, the very totals ``scoring.score`` gives and the very
verdicts of ``scoring.ineligibility``. The unit tests hold the two to agreement pair by pair.

Totals are kept in integer millionths: ``scoring`` rounds every contribution to six decimals
and their sum again, so a total is exactly (sum of the contributions' millionths) / 10⁶, and
every criterion but skill coverage takes so few values that its contributions are looked up
in a table computed with Python's own arithmetic.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import chain

import numpy as np
from numpy.typing import NDArray

from contracts.programmes import Programme
from services.matching import cores
from services.matching.candidates import (
    MINUTES_PER_WEEK,
    Candidate,
    Interval,
    merge_intervals,  # as overlap_minutes merges
)
from services.matching.scoring import NEUTRAL, TARGET_OVERLAP_MINUTES

Ints = NDArray[np.int64]
Floats = NDArray[np.float64]
Bools = NDArray[np.bool_]
Words = NDArray[np.uint64]

# Availability is compared on half-hour slots: whole and half-hour time zones and windows
# starting on the hour or half hour land on them, so counting shared slots is exact for them;
# anyone else (a 5:45 zone, a window at 9:10) is compared interval by interval instead.
SLOT_MINUTES = 30
SLOTS = MINUTES_PER_WEEK // SLOT_MINUTES
SLOT_WORDS = -(-SLOTS // 64)
# How far up a management chain ``scoring.management_chain`` looks (its default limit).
CHAIN_DEPTH = 50
# Pairs are scored in slices this long, so the temporaries stay in the processor's cache.
SLICE = 16384
DECIMALS = 1_000_000

# Bits of ``Side.flags``.
HAS_LEVEL = 1
HAS_AVAILABILITY = 2
HAS_LANGUAGES = 4
HAS_TEAM = 8
ON_GRID = 16  # every availability interval on slot boundaries: slots count its minutes exactly
EXTERNAL = 32
ACCEPTS_EXTERNAL = 64
SAME_TEAM_ALLOWED = 128


@dataclass(frozen=True)
class Side:
    """One side of a round as columns; row ``i`` describes ``people[i]``."""

    people: Sequence[Candidate]
    person: Ints  # the person's number in the round, shared by both sides
    flags: NDArray[np.uint8]
    level: Ints  # 0 when unknown
    offset: Floats  # hours from UTC, NaN when unknown
    team: Ints  # -1 when unknown
    max_gap: Floats  # +inf without a limit
    languages: Words  # (words, rows): a bit per language of the round
    slots: Words  # (SLOT_WORDS, rows): the half-hour slots any availability touches

    def has(self, flag: int) -> Bools:
        return np.asarray((self.flags & flag) != 0, dtype=np.bool_)


@dataclass(frozen=True)
class Skills:
    """What mentors can cover of what mentees want.

    ``terms`` are the goals some mentor has as a skill. ``goals[c][row]`` is a mentee's c-th
    goal in name order (the order ``scoring`` adds them in) as a term, ``len(terms)`` for a
    goal no mentor covers; ``codes[term * mentors + mentor]`` points into ``weights``, whose
    entry 0 is 0.0 (term-major: a mentee's candidates are looked up in one row).
    """

    terms: list[str]
    goals: NDArray[np.int64]  # (widest list of terms, mentees)
    goal_count: Ints  # all goals, terms or not: coverage is shared out over all of them
    term_count: Ints
    codes: NDArray[np.integer]
    weights: Floats


@dataclass(frozen=True)
class Coverage:
    """Skill coverage's contribution in millionths for every pair, looked up.

    A pair's coverage depends only on the mentor's level code for each of the mentee's goal
    columns (a handful of codes) and the mentee's number of goals, so every combination is
    worked out once, with the very float operations in the very order ``scoring`` uses
    (0.0 plus each weight in goal order, over the count, times the share, rounded to six
    decimals), and a pair costs a gather per goal column and one lookup."""

    base: Ints  # by mentee: where its goal count's block of ``millionths`` starts
    starts: Ints  # (goal columns, mentees): where the column's term's codes start
    steps: Ints  # by goal column: radix ** column, codes per goal column being the radix
    millionths: Ints  # by base + Σ code(column) × step(column)

    LIMIT = 1 << 16  # entries; more (many weights or goals) and coverage is computed per pair

    @staticmethod
    def of(skills: Skills, share: float) -> Coverage | None:
        radix, width = len(skills.weights), int(skills.term_count.max(initial=0))
        counts = np.unique(skills.goal_count)
        sequences = radix**width
        if sequences * len(counts) > Coverage.LIMIT:
            return None
        packed = np.arange(sequences, dtype=np.int64)
        covered = np.zeros(sequences, dtype=np.float64)
        for column in range(width):
            covered += skills.weights[(packed // radix**column) % radix]
        with np.errstate(invalid="ignore", divide="ignore"):
            value = np.where(counts[:, None] > 0, covered[None, :] / counts[:, None], NEUTRAL)
        block = np.searchsorted(counts, skills.goal_count)
        mentors = len(skills.codes) // (len(skills.terms) + 1)
        return Coverage(
            base=(block * sequences).astype(np.int64),
            starts=skills.goals[:width] * mentors,
            steps=radix ** np.arange(width, dtype=np.int64),
            millionths=round_six_millionths(share * value.reshape(-1)),
        )

    def lookup(self, skills: Skills, e: Ints, m: Ints) -> Ints:
        # Every pair goes through each goal column its slice needs: a goal no mentor covers
        # (or none at all) points at the row of codes that are all 0, which adds nothing,
        # and that costs less than picking out the pairs with a goal in that column.
        index = self.base[e]
        width = int(skills.term_count[e].max(initial=0))
        for column, starts in enumerate(self.starts[:width]):
            index = index + self.steps[column] * skills.codes[starts[e] + m]
        return np.asarray(self.millionths[index], dtype=np.int64)


@dataclass(frozen=True)
class Tables:
    """Contributions in millionths, computed by Python exactly as ``scoring.score`` does."""

    shares: tuple[float, float, float, float, float]  # of the criteria, in scoring's order
    seniority: Ints  # by distance outside the programme's gap range, 3 and beyond alike
    availability: Ints  # by shared minutes up to TARGET_OVERLAP_MINUTES
    language: Ints  # no shared language, shared
    cross_team: Ints  # same team, other team
    neutral: tuple[int, int, int, int]  # seniority, availability, language, cross team
    criteria: Ints  # the four above summed, by the index ``_slice`` packs (see ``_criteria``)


@dataclass(frozen=True)
class Round:
    """Everything pair scoring needs, built once per round."""

    mentees: Side
    mentors: Side
    skills: Skills
    tables: Tables
    seniority: tuple[int, int]
    banned: Ints  # sorted pair keys (mentee row × mentors + mentor row) never to propose
    coverage: Coverage | None  # skill coverage looked up, where the table is small enough

    @property
    def shares(self) -> tuple[float, float, float, float, float]:
        return self.tables.shares


def build_round(
    mentees: Sequence[Candidate],
    mentors: Sequence[Candidate],
    programme: Programme,
    *,
    managers: Mapping[str, str | None],
    declined: frozenset[tuple[str, str]],
) -> Round:
    """Columns for both sides; callers pass distinct, active mentees and distinct mentors."""
    names: dict[str, int] = {}
    teams: dict[str, int] = {}
    languages: dict[str, int] = {}
    # Bits in order of first appearance; people share a handful of language sets.
    for spoken in dict.fromkeys(person.languages for person in (*mentees, *mentors)):
        for language in sorted(spoken):
            languages.setdefault(language, len(languages))
    mentee_side = _side(mentees, names, teams, languages, mentor=False)
    mentor_side = _side(mentors, names, teams, languages, mentor=True)
    skills = _skills(mentees, mentors)
    tables = _tables(programme)
    return Round(
        mentees=mentee_side,
        mentors=mentor_side,
        skills=skills,
        tables=tables,
        seniority=(programme.min_seniority_gap, programme.max_seniority_gap),
        banned=_banned(mentee_side, mentor_side, names, managers, declined),
        coverage=Coverage.of(skills, tables.shares[0]),
    )


def _side(
    people: Sequence[Candidate],
    names: dict[str, int],
    teams: dict[str, int],
    languages: dict[str, int],
    *,
    mentor: bool,
) -> Side:
    # Python reads each feature off the people once (a comprehension per feature costs less
    # than one loop appending to many lists); numpy turns them into columns.
    person = [names.setdefault(p.person_id, len(names)) for p in people]
    team = [-1 if p.team is None else teams.setdefault(p.team, len(teams)) for p in people]
    preferences = [p.preferences for p in people]
    slots, on_grid = _slot_columns([p.availability for p in people])
    flags = (
        np.array([p.level_rank is not None for p in people], dtype=np.uint8) * HAS_LEVEL
        | np.array([bool(p.availability) for p in people], dtype=np.uint8) * HAS_AVAILABILITY
        | np.array([bool(p.languages) for p in people], dtype=np.uint8) * HAS_LANGUAGES
        | np.array([p.team is not None for p in people], dtype=np.uint8) * HAS_TEAM
        | on_grid.astype(np.uint8) * ON_GRID
        | np.array([mentor and p.external for p in people], dtype=np.uint8) * EXTERNAL
        | np.array([x.external_mentor for x in preferences], dtype=np.uint8) * ACCEPTS_EXTERNAL
        | np.array([x.same_team_allowed for x in preferences], dtype=np.uint8) * SAME_TEAM_ALLOWED
    ).astype(np.uint8)
    gaps = [x.max_time_zone_gap_hours for x in preferences]
    return Side(
        people=people,
        person=np.array(person, dtype=np.int64),
        flags=flags,
        level=np.array([p.level_rank or 0 for p in people], dtype=np.int64),
        offset=np.array(
            [np.nan if p.utc_offset_hours is None else p.utc_offset_hours for p in people], dtype=np.float64
        ),
        team=np.array(team, dtype=np.int64),
        max_gap=np.array([np.inf if gap is None else gap for gap in gaps], dtype=np.float64),
        languages=_language_columns([p.languages for p in people], languages),
        slots=slots,
    )


def _packed_columns(bits: NDArray[np.bool_], words: int) -> Words:
    """(rows, bits) booleans as (words, rows) little-endian words: bit ``b`` of row ``r`` is
    bit ``b % 64`` of word ``b // 64``."""
    packed = np.packbits(bits, axis=1, bitorder="little")
    raw = np.zeros((len(bits), 8 * words), dtype=np.uint8)
    raw[:, : packed.shape[1]] = packed
    return np.ascontiguousarray(raw.view("<u8").astype(np.uint64).T)


def _language_columns(spoken: Sequence[frozenset[str]], languages: dict[str, int]) -> Words:
    """A bit per language of the round; people share a handful of language sets, so each
    set is spelt out once."""
    kinds: dict[frozenset[str], int] = {}
    kind = np.array([kinds.setdefault(s, len(kinds)) for s in spoken], dtype=np.int64)
    table = np.zeros((max(1, len(kinds)), max(1, len(languages))), dtype=np.bool_)
    for at, those in enumerate(kinds):
        table[at, [languages[language] for language in those]] = True
    words = max(1, -(-len(languages) // 64))
    return _packed_columns(table, words)[:, kind] if len(spoken) else np.zeros((words, 0), np.uint64)


def _slot_columns(availability: Sequence[tuple[Interval, ...]]) -> tuple[Words, Bools]:
    """The half-hour slots any interval touches, as columns, and whether the slots count
    each person's minutes exactly (every interval on the grid and within the week)."""
    counts = np.array([len(a) for a in availability], dtype=np.int64)
    total = int(counts.sum())
    flat = np.fromiter(
        chain.from_iterable(chain.from_iterable(availability)), dtype=np.int64, count=2 * total
    ).reshape(-1, 2)
    lo, hi = flat[:, 0], flat[:, 1]
    row = np.repeat(np.arange(len(availability), dtype=np.int64), counts)
    off = (lo % SLOT_MINUTES != 0) | (hi % SLOT_MINUTES != 0) | (lo < 0) | (hi > MINUTES_PER_WEEK)
    on_grid = np.bincount(row[off], minlength=len(availability)) == 0
    first = np.clip(lo, 0, MINUTES_PER_WEEK) // SLOT_MINUTES
    last = -(-np.clip(hi, 0, MINUTES_PER_WEEK) // SLOT_MINUTES)
    length = np.maximum(last - first, 0)
    # Every touched slot of every interval, marked: a few per interval.
    starts = np.repeat(row * SLOTS + first - (np.cumsum(length) - length), length)
    touched = np.zeros((len(availability), SLOTS), dtype=np.bool_)
    touched.reshape(-1)[starts + np.arange(len(starts), dtype=np.int64)] = True
    return _packed_columns(touched, SLOT_WORDS), on_grid


def _intervals(side: Side, rows: Ints) -> tuple[Ints, Ints]:
    """Merged availability of the given rows as padded (start, end) minute arrays: read off
    the slots where those count exactly, merged from the intervals elsewhere."""
    bits = slot_matrix(side, rows).astype(np.int8)
    edges = np.diff(np.pad(bits, ((0, 0), (1, 1))), axis=1)
    which, starts = np.nonzero(edges == 1)
    ends = np.nonzero(edges == -1)[1]
    column = places(which)
    off_grid = {
        at: merge_intervals(side.people[row].availability)
        for at, row in enumerate(rows.tolist())
        if not side.flags[row] & ON_GRID
    }
    width = max([int(column.max(initial=-1)) + 1, *(len(x) for x in off_grid.values())])
    lo = np.zeros((len(rows), width), dtype=np.int64)
    hi = np.zeros((len(rows), width), dtype=np.int64)
    lo[which, column], hi[which, column] = starts * SLOT_MINUTES, ends * SLOT_MINUTES
    for at, intervals in off_grid.items():
        lo[at], hi[at] = 0, 0
        for place, (start, end) in enumerate(intervals):
            lo[at, place], hi[at, place] = start, end
    return lo, hi


def distinct(values: Ints) -> Ints:
    """The sorted distinct values (``np.unique`` hashes large integer arrays, far slower).
    Values that fit in 32 bits, as a round's pair keys do up to 4 billion pairs, are sorted
    as 32-bit numbers: half the memory to move, well under half the time."""
    if len(values) and int(values.min()) >= 0 and int(values.max()) <= np.iinfo(np.uint32).max:
        ordered = np.sort(values.astype(np.uint32)).astype(np.int64)
    else:
        ordered = np.sort(values)
    return ordered[_run_starts(ordered)]


def places(ordered: Ints) -> Ints:
    """Each element's position within its run of equal values (``ordered`` is sorted); a
    binary search per element would cost a logarithm more on tens of millions of pairs."""
    start_of = np.zeros(len(ordered), dtype=np.int64)
    starts = _run_starts(ordered)
    start_of[starts] = starts
    np.maximum.accumulate(start_of, out=start_of)
    return np.subtract(np.arange(len(ordered), dtype=np.int64), start_of, out=start_of)


def _run_starts(ordered: Ints) -> Ints:
    boundary = np.ones(len(ordered), dtype=np.bool_)
    np.not_equal(ordered[1:], ordered[:-1], out=boundary[1:])
    return np.flatnonzero(boundary)


def slot_matrix(side: Side, rows: Ints | None = None) -> NDArray[np.uint8]:
    """(rows, SLOTS) 0/1: the half-hour slots each person's availability touches."""
    words = side.slots.T if rows is None else side.slots.T[rows]
    raw = np.ascontiguousarray(words).astype("<u8").view(np.uint8)
    return np.unpackbits(raw, axis=1, bitorder="little")[:, :SLOTS]


def _skills(mentees: Sequence[Candidate], mentors: Sequence[Candidate]) -> Skills:
    # Many mentees want the same goals: each set of goals is worked out once.
    kinds: dict[frozenset[str], int] = {}
    kind = np.array([kinds.setdefault(p.goals, len(kinds)) for p in mentees], dtype=np.int64)
    wanted = frozenset().union(*kinds)
    terms = sorted({skill for person in mentors for skill in person.skills if skill in wanted})
    term_of = {term: column for column, term in enumerate(terms)}
    nothing = len(terms)
    lists = [[term_of[g] for g in sorted(goals) if g in term_of] for goals in kinds]
    width = max((len(x) for x in lists), default=0)
    by_kind = np.full((max(width, 1), max(1, len(lists))), nothing, dtype=np.int64)
    for at, covered in enumerate(lists):
        by_kind[: len(covered), at] = covered
    goals = by_kind[:, kind]
    places: list[int] = []
    values: list[float] = [0.0]
    for row, person in enumerate(mentors):
        for skill, weight in person.skills.items():
            column = term_of.get(skill)
            if column is not None:
                places.append(column * len(mentors) + row)
                values.append(weight)
    # Code 0 must mean "not a skill", so 0.0 leads the table whatever sorts before it.
    table = [0.0, *sorted(set(values[1:]) - {0.0})]
    code_of = {value: code for code, value in enumerate(table)}
    # Codes as narrow as the table allows: the mentor × term array is the round's largest.
    dtype = np.uint8 if len(table) <= 1 << 8 else np.uint16 if len(table) <= 1 << 16 else np.int64
    codes: NDArray[np.integer] = np.zeros(len(mentors) * (nothing + 1), dtype=dtype)
    codes[np.array(places, dtype=np.int64)] = np.array([code_of[v] for v in values[1:]], dtype=dtype)
    return Skills(
        terms=terms,
        goals=goals,
        goal_count=np.array([len(goals) for goals in kinds], dtype=np.int64)[kind],
        term_count=np.array([len(x) for x in lists], dtype=np.int64)[kind],
        codes=codes,
        weights=np.array(table, dtype=np.float64),
    )


def _tables(programme: Programme) -> Tables:
    weights = programme.weights
    raw = (
        weights.skill_coverage,
        weights.seniority_gap,
        weights.availability_overlap,
        weights.shared_language,
        weights.cross_team,
    )
    total_weight = sum(raw)
    shares = (
        raw[0] / total_weight,
        raw[1] / total_weight,
        raw[2] / total_weight,
        raw[3] / total_weight,
        raw[4] / total_weight,
    )
    _, seniority, availability, language, cross_team = shares

    def millionths(share: float, value: float) -> int:
        return round(round(share * value, 6) * DECIMALS)

    return _criteria(
        Tables(
            shares=shares,
            seniority=np.array(
                [millionths(seniority, 1.0)]
                + [millionths(seniority, max(0.0, 1 - d / 3)) for d in (1, 2, 3)],
                dtype=np.int64,
            ),
            availability=np.array(
                [
                    millionths(availability, min(1.0, minutes / TARGET_OVERLAP_MINUTES))
                    for minutes in range(TARGET_OVERLAP_MINUTES + 1)
                ],
                dtype=np.int64,
            ),
            language=np.array([millionths(language, 0.0), millionths(language, 1.0)], dtype=np.int64),
            cross_team=np.array([millionths(cross_team, 0.0), millionths(cross_team, 1.0)], dtype=np.int64),
            neutral=(
                millionths(seniority, NEUTRAL),
                millionths(availability, NEUTRAL),
                millionths(language, NEUTRAL),
                millionths(cross_team, NEUTRAL),
            ),
            criteria=np.zeros(0, dtype=np.int64),
        )
    )


# Shared slots count up to the target overlap; more score alike.
_SLOT_CAP = -(-TARGET_OVERLAP_MINUTES // SLOT_MINUTES)
_KNOWN = HAS_LEVEL | HAS_AVAILABILITY | HAS_LANGUAGES | HAS_TEAM


def _criteria(tables: Tables) -> Tables:
    """``tables`` with ``criteria``: seniority, availability, language and cross team summed
    for every index ``_slice`` packs: bit 0 other team, bit 1 a shared language, bits 2-4
    shared slots (up to ``_SLOT_CAP``), bits 5-6 the seniority distance, bits 7-10 which of
    level, availability, languages and team are unknown (``_KNOWN``'s flags, scoring neutral)."""
    assert _SLOT_CAP < 8
    index = np.arange(1 << 11, dtype=np.int64)
    unknown = index >> 7
    minutes = np.minimum(((index >> 2) & 7) * SLOT_MINUTES, TARGET_OVERLAP_MINUTES)
    parts = (
        (HAS_LEVEL, tables.seniority[(index >> 5) & 3], tables.neutral[0]),
        (HAS_AVAILABILITY, tables.availability[minutes], tables.neutral[1]),
        (HAS_LANGUAGES, tables.language[(index >> 1) & 1], tables.neutral[2]),
        (HAS_TEAM, tables.cross_team[index & 1], tables.neutral[3]),
    )
    criteria = np.zeros(len(index), dtype=np.int64)
    for flag, known, neutral in parts:
        criteria += np.where((unknown & flag) != 0, neutral, known)
    return replace(tables, criteria=criteria)


def _banned(
    mentees: Side,
    mentors: Side,
    names: dict[str, int],
    managers: Mapping[str, str | None],
    declined: frozenset[tuple[str, str]],
) -> Ints:
    """Pairs ruled out by a management chain (either way) or declined before, as pair keys."""
    reports: list[int] = []
    bosses: list[int] = []
    for person, manager in managers.items():
        number = names.setdefault(person, len(names))
        if manager is not None:
            reports.append(number)
            bosses.append(names.setdefault(manager, len(names)))
    parent = np.full(len(names), -1, dtype=np.int64)
    parent[np.array(reports, dtype=np.int64)] = np.array(bosses, dtype=np.int64)
    as_mentee = np.full(len(names), -1, dtype=np.int64)
    as_mentee[mentees.person] = np.arange(len(mentees.person))
    as_mentor = np.full(len(names), -1, dtype=np.int64)
    as_mentor[mentors.person] = np.arange(len(mentors.person))
    width = len(mentors.person)
    keys: list[Ints] = []
    for rows, above in _chains(parent, mentees.person):
        mentor = as_mentor[above]
        keys.append(rows[mentor >= 0] * width + mentor[mentor >= 0])
    for rows, above in _chains(parent, mentors.person):
        mentee = as_mentee[above]
        keys.append(mentee[mentee >= 0] * width + rows[mentee >= 0])
    # Everyone in the round has a number in ``names``; a decline counts if both sides do.
    numbered = [(names.get(mentee, -1), names.get(mentor, -1)) for mentor, mentee in declined]
    known = np.array([pair for pair in numbered if min(pair) >= 0], dtype=np.int64).reshape(-1, 2)
    row, column = as_mentee[known[:, 0]], as_mentor[known[:, 1]]
    keys.append(row[(row >= 0) & (column >= 0)] * width + column[(row >= 0) & (column >= 0)])
    return distinct(np.concatenate(keys))


def _chains(parent: Ints, starts: Ints) -> Iterator[tuple[Ints, Ints]]:
    """(row, manager) for every manager within CHAIN_DEPTH steps above each start.

    Following a cycle revisits managers already yielded, so the set of managers is exactly
    ``management_chain``'s, which stops at the first repeat."""
    rows = np.arange(len(starts), dtype=np.int64)
    current = parent[starts]
    for _ in range(CHAIN_DEPTH):
        live = current >= 0
        rows, current = rows[live], current[live]
        if len(rows) == 0:
            return
        yield rows, current
        current = parent[current]


def score_pairs(
    round_: Round, mentee_rows: Ints, mentor_rows: Ints, *, threads: bool = True
) -> tuple[Ints, Bools]:
    """For each pair: ``scoring.score(...).total`` in integer millionths, and whether
    ``scoring.ineligibility(...)`` is None. Slices go to ``cores`` unless ``threads`` is
    False (a caller already running on its own thread)."""
    millionths = np.empty(len(mentee_rows), dtype=np.int64)
    eligible = np.empty(len(mentee_rows), dtype=np.bool_)

    def score_slice(start: int) -> None:
        part = slice(start, start + SLICE)
        millionths[part], eligible[part] = _slice(round_, mentee_rows[part], mentor_rows[part])

    cores.each(score_slice, range(0, len(mentee_rows), SLICE), threads=threads)
    # The rare pairs that need more than slot arithmetic are redone together, not slice by
    # slice: their cost is in the number of numpy calls, not the number of pairs.
    _measure_off_grid(round_, mentee_rows, mentor_rows, millionths)
    eligible &= ~_banned_pairs(round_, mentee_rows * len(round_.mentors.person) + mentor_rows)
    return millionths, eligible


def _slice(round_: Round, e: Ints, m: Ints) -> tuple[Ints, Bools]:
    mentees, mentors, tables = round_.mentees, round_.mentors, round_.tables
    mine, theirs = mentees.flags[e], mentors.flags[m]
    both = mine & theirs
    team, other_team = mentees.team[e], mentors.team[m]

    ok: Bools = mentees.person[e] != mentors.person[m]
    ok &= ((theirs & EXTERNAL) == 0) | ((mine & ACCEPTS_EXTERNAL) != 0)
    ok &= (team < 0) | (team != other_team) | ((both & SAME_TEAM_ALLOWED) != 0)
    gap = np.abs(mentees.offset[e] - mentors.offset[m])
    ok &= ~(gap > np.minimum(mentees.max_gap[e], mentors.max_gap[m]))

    if round_.coverage is not None:
        total = round_.coverage.lookup(round_.skills, e, m)
    else:
        total = _skill_millionths(round_.skills, tables.shares[0], e, m)
    # The four small criteria in one lookup (``Tables.criteria``): the index packs what
    # each one depends on, and the flags of the criteria either side leaves unknown.
    slots = np.minimum(_shared_slots(mentees.slots, mentors.slots, e, m), _SLOT_CAP)
    index = (team != other_team).view(np.uint8).astype(np.uint16)
    index |= _shared_language(mentees.languages, mentors.languages, e, m).view(np.uint8) << 1
    index |= slots << 2
    index |= _seniority_distance(round_, e, m).astype(np.uint16) << 5
    index |= ((~both) & _KNOWN).astype(np.uint16) << 7
    total += tables.criteria[index]
    return total, ok


def _banned_pairs(round_: Round, keys: Ints) -> Bools:
    """Which pair keys a management chain or an earlier decline rules out."""
    banned = round_.banned
    hit = np.zeros(len(keys), dtype=np.bool_)
    if len(banned) == 0 or len(keys) == 0:
        return hit
    if bool((keys[1:] > keys[:-1]).all()):
        # Sorted distinct keys (a round's candidates): look the few banned pairs up in them.
        spot = np.minimum(np.searchsorted(keys, banned), len(keys) - 1)
        hit[spot[keys[spot] == banned]] = True
        return hit
    spot = np.minimum(np.searchsorted(banned, keys), len(banned) - 1)
    return np.asarray(banned[spot] == keys)


def _measure_off_grid(round_: Round, e: Ints, m: Ints, millionths: Ints) -> None:
    """Correct the availability of pairs whose intervals are not on the slot grid."""
    mentees, mentors = round_.mentees, round_.mentors
    both = mentees.flags[e] & mentors.flags[m]
    odd = np.flatnonzero(((both & HAS_AVAILABILITY) != 0) & ((both & ON_GRID) == 0))
    if len(odd) == 0:
        return
    e, m = e[odd], m[odd]
    slots = np.minimum(_slot_minutes(mentees.slots, mentors.slots, e, m), TARGET_OVERLAP_MINUTES)
    mentee_rows, e = np.unique(e, return_inverse=True)
    mentor_rows, m = np.unique(m, return_inverse=True)
    exact = _overlap(_intervals(mentees, mentee_rows), _intervals(mentors, mentor_rows), e, m)
    exact = np.minimum(exact, TARGET_OVERLAP_MINUTES)
    table = round_.tables.availability
    millionths[odd] += table[exact] - table[slots]


def _skill_millionths(skills: Skills, share: float, e: Ints, m: Ints) -> Ints:
    count = skills.goal_count[e]
    covered = np.zeros(len(e), dtype=np.float64)
    mentors = len(skills.codes) // (len(skills.terms) + 1)
    terms = skills.term_count[e]
    widest = int(terms.max(initial=0))
    for column, goals in enumerate(skills.goals[:widest]):
        # Goals no mentor covers add 0.0 and are left out, so later columns hold fewer pairs.
        rows = slice(None) if column == 0 else np.flatnonzero(terms > column)
        covered[rows] += skills.weights[skills.codes[goals[e[rows]] * mentors + m[rows]]]
    with np.errstate(invalid="ignore", divide="ignore"):
        value = np.where(count > 0, covered / count, NEUTRAL)
    return round_six_millionths(share * value)


def round_six_millionths(x: Floats) -> Ints:
    """``round(x, 6)`` in millionths for every element, as Python rounds: scaling by a
    million can move a value lying within a hair of half a millionth across the boundary,
    so those few are rounded by Python itself."""
    scaled = x * DECIMALS
    rounded = np.rint(scaled)
    near_half = np.abs(np.abs(scaled - rounded) - 0.5) < 1e-6
    if near_half.any():
        for spot in np.flatnonzero(near_half).tolist():
            rounded[spot] = round(round(float(x[spot]), 6) * DECIMALS)
    return rounded.astype(np.int64)


def _seniority_distance(round_: Round, e: Ints, m: Ints) -> Ints:
    """How far outside the programme's seniority gap range, 3 and beyond alike."""
    low, high = round_.seniority
    gap = round_.mentors.level[m] - round_.mentees.level[e]
    return np.asarray(np.minimum(np.maximum(np.maximum(low - gap, gap - high), 0), 3), dtype=np.int64)


def _shared_slots(mine: Words, theirs: Words, e: Ints, m: Ints) -> NDArray[np.uint16]:
    """The half-hour slots both touch."""
    slots = np.zeros(len(e), dtype=np.uint16)
    for a, b in zip(mine, theirs, strict=True):
        slots += np.bitwise_count(a[e] & b[m])
    return slots


def _slot_minutes(mine: Words, theirs: Words, e: Ints, m: Ints) -> Ints:
    """Minutes of the half-hour slots both touch (exact when both are on the grid)."""
    return _shared_slots(mine, theirs, e, m).astype(np.int64) * SLOT_MINUTES


def _overlap(left: tuple[Ints, Ints], right: tuple[Ints, Ints], e: Ints, m: Ints) -> Ints:
    """Minutes shared by two rows' merged intervals: every piece of one against every piece
    of the other (each side's pieces are disjoint, so nothing counts twice)."""
    total = np.zeros(len(e), dtype=np.int64)
    a_lo, a_hi = left[0][e], left[1][e]
    b_lo, b_hi = right[0][m], right[1][m]
    for r in range(a_lo.shape[1]):
        for s in range(b_lo.shape[1]):
            total += np.maximum(0, np.minimum(a_hi[:, r], b_hi[:, s]) - np.maximum(a_lo[:, r], b_lo[:, s]))
    return total


def _shared_language(mine: Words, theirs: Words, e: Ints, m: Ints) -> Bools:
    shared = np.zeros(len(e), dtype=np.bool_)
    for a, b in zip(mine, theirs, strict=True):
        shared |= (a[e] & b[m]) != 0
    return shared
