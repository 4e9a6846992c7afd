"""Candidate pairs for a large cohort round, found without weighing every pair.

A round of 100,000 mentees and 25,000 mentors has 2.5 billion pairs, too many to score, so
this module proposes a few hundred mentors per mentee; ``pairwise`` then scores them exactly.
Three ideas carry it:

- *Profiles*: people with the same UTC offset and level share everything in the score but
  skills, personal availability, languages and teams, so for each profile and each person on
  the other side the rest of the score is estimated once (``_Grouped.estimate``): seniority
  exactly, availability, languages and teams as the profile's average, minus infinity where
  a time-zone limit or an external mentor rules the pair out.
- *Blocking by skill*: for each goal, the mentees wanting it are clustered by profile, and
  each cluster keeps the ``PER_GOAL`` mentors covering the goal who promise its members the
  most on average (the cluster's mean goal vector against each mentor's skills, plus the
  estimate); the same from the mentors' side, each cluster of mentors keeping the
  ``PER_SKILL`` mentees wanting the skill they suit best. Mentors also get the
  ``MENTOR_FALLBACK`` mentees without goals who suit their profile best: those are the
  mentees who can take any seat, which matters when seats barely cover the mentees.
- *Blocking by time*: two shared hours score as much availability as more, so for each goal
  and each half hour the mentors free for the two hours from then are listed, and a mentee
  free then too gets ``PER_START`` of them: personal availability, which profiles blur.

Every mentee also gets the ``FALLBACK`` mentors with the best estimate for its profile
(``FALLBACK_WIDE`` without goals: those rank mentors by everything but skills), so no one is
left without candidates.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial

import numpy as np
from numpy.typing import NDArray

from services.matching import cores
from services.matching.pair_kernels import Batch, Spans, best_first, promises
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
    places,
    slot_matrix,
)
from services.matching.scoring import NEUTRAL, TARGET_OVERLAP_MINUTES

Reals = NDArray[np.float32]
Pairs = tuple[Ints, Ints]  # (mentee rows, mentor rows)

PER_GOAL = 144
# Personal availability is what a profile's average hides most as the organisation grows:
# at 100,000 mentees, 48 per start instead of 8 raised the round's total by 0.39% (24 by
# 0.33%) for 8% more pairs; at 10,000 it changes nothing measurable.
PER_START = 48
FALLBACK = 48
FALLBACK_WIDE = 384
PER_SKILL = 48
MENTOR_FALLBACK = 256
COMPANIONS = 16  # terms a cluster's mean goal vector keeps
PARTS = 4  # slices of the goals per way, shared out over the cores
_UNKNOWN = -(10**6)


def candidate_pairs(round_: Round, *, both_ways: bool) -> Iterator[Batch]:
    """Candidate (mentee row, mentor row) pairs, in batches (some as ``Spans``), with repeats. The pieces of
    generation are shared out over the cores (``cores``) as they free up: the goals in
    ``PARTS`` slices (each proposing both ways), so that no thread is left with a long piece
    at the end."""
    terms = _Terms.of(round_)
    # Each side's hours serve both sides' estimates: worked out once.
    hours = cores.both(lambda: _hours(round_.mentees), lambda: _hours(round_.mentors))
    mentee_side, mentor_side = cores.both(
        lambda: _Grouped.of(round_, hours, mentees=True),
        lambda: _Grouped.of(round_, hours, mentees=False) if both_ways else None,
    )
    assert mentee_side is not None
    goalless = round_.skills.goal_count == 0
    # Both ways read the same goals' mentees and mentors, companions and vectors: each slice
    # of the goals works them out once and proposes both ways (``_by_term``).
    by_term = [partial(_by_term, round_, terms, mentee_side, mentor_side, part) for part in range(PARTS)]
    pieces: list[Callable[[], list[list[Batch]]]] = [
        *by_term,
        partial(_listed, partial(_by_shared_time, round_, terms)),
        partial(_listed, partial(_fallback, mentee_side, FALLBACK, FALLBACK_WIDE, goalless)),
    ]
    if mentor_side is not None:
        pieces.append(
            partial(
                _listed,
                partial(_fallback, mentor_side, MENTOR_FALLBACK, 0, None, columns=np.flatnonzero(goalless)),
            )
        )
    done = cores.mapped(lambda piece: piece(), pieces)
    # In the order the pieces were once run one way at a time: the goals' slices, shared
    # time and the mentees' fallback, then the skills' slices and the mentors' fallback.
    slices, rest = done[:PARTS], [batches for (batches,) in done[PARTS:]]
    for batches in [*(goals for goals, _ in slices), *rest[:2], *(skills for _, skills in slices), *rest[2:]]:
        yield from batches


def _listed(piece: Callable[[], Iterator[Batch]]) -> list[list[Batch]]:
    return [list(piece())]


# --- profiles and estimates ------------------------------------------------------------


@dataclass(frozen=True)
class _Profiles:
    """Rows grouped by UTC offset and level."""

    of: Ints  # each row's profile
    rows: Ints  # rows ordered by profile
    starts: Ints  # where each profile begins in ``rows``
    sample: Ints  # the row each profile's eligibility is judged by (see ``_profiles``)

    @property
    def count(self) -> int:
        return len(self.starts)

    def members(self, profile: int) -> Ints:
        end = self.starts[profile + 1] if profile + 1 < self.count else len(self.rows)
        return self.rows[self.starts[profile] : end]


def _profiles(side: Side, *, mentors: bool) -> _Profiles:
    """Profiles by offset and level; each is judged eligible as its most open member: one
    without a time-zone limit if any, and not taking external mentors (or not being one)
    unless all do, as few do."""
    offset = np.where(np.isnan(side.offset), _UNKNOWN, np.rint(np.nan_to_num(side.offset) * 60)).astype(
        np.int64
    )
    level = np.where(side.has(HAS_LEVEL), side.level, _UNKNOWN)
    of = _group_of(offset, level)
    external = side.has(EXTERNAL if mentors else ACCEPTS_EXTERNAL)
    rows = np.lexsort((external, -side.max_gap, of))
    starts = np.searchsorted(of[rows], np.arange(int(of.max(initial=-1)) + 1))
    return _Profiles(of=of, rows=rows, starts=starts, sample=rows[starts])


@dataclass(frozen=True)
class _Grouped:
    """One side grouped into profiles, and for each profile and each person on the other
    side the expected score of the pair without skill coverage (minus infinity where the
    profile may never pair with them)."""

    round_: Round
    mentees: bool  # whether the grouped side is the mentees'
    profiles: _Profiles
    estimate: Reals  # (rows of the other side, profiles): a row per person gathers fast

    @staticmethod
    def of(round_: Round, hours: tuple[Reals, Reals], *, mentees: bool) -> _Grouped:
        """``hours``: the mentees' and the mentors' (``_hours``)."""
        side = round_.mentees if mentees else round_.mentors
        profiles = _profiles(side, mentors=not mentees)
        estimate = _Estimator(round_, profiles, mentees, hours).matrix()
        return _Grouped(round_=round_, mentees=mentees, profiles=profiles, estimate=estimate)

    @property
    def side(self) -> Side:
        return self.round_.mentees if self.mentees else self.round_.mentors

    @property
    def other(self) -> Side:
        return self.round_.mentors if self.mentees else self.round_.mentees


class _Estimator:
    """Builds ``_Grouped.estimate``. Everything but availability depends on a handful of a
    person's features, so it is worked out once per *kind* of person on the other side
    (same level, offset, limit, flags, languages); availability is personal and added."""

    def __init__(self, round_: Round, profiles: _Profiles, mentees: bool, hours: tuple[Reals, Reals]) -> None:
        self.round_, self.profiles, self.mentees = round_, profiles, mentees
        self.side = round_.mentees if mentees else round_.mentors
        self.other = round_.mentors if mentees else round_.mentees
        available = self.side.has(HAS_AVAILABILITY)
        self.present = _mean(available.astype(np.float64), profiles).astype(np.float32)
        mine, theirs = hours if mentees else hours[::-1]
        mean_hours = _mean(mine * available[:, None], profiles)
        self.hours = (mean_hours / np.maximum(self.present, 1e-9)[:, None]).astype(np.float32)
        masks, language = np.unique(self.side.languages.T, axis=0, return_inverse=True)
        self.language_share = _mean(np.eye(len(masks))[language.reshape(-1)], profiles).astype(np.float32)
        self.masks = masks
        self.team_known = _mean(self.side.has(HAS_TEAM).astype(np.float64), profiles).astype(np.float32)
        self.other_hours = theirs
        self.kind, self.sample = self._kinds()

    def _kinds(self) -> tuple[Ints, Ints]:
        """Each person's kind on the other side, and one person of each kind."""
        other = self.other
        goalless = (
            self.round_.skills.goal_count == 0 if not self.mentees else np.zeros(len(other.person), bool)
        )
        kind = _group_of(
            other.level,
            np.nan_to_num(other.offset * 60, nan=_UNKNOWN).astype(np.int64),
            np.nan_to_num(other.max_gap * 60, posinf=-1).astype(np.int64),
            (other.flags & (0xFF ^ (HAS_AVAILABILITY | ON_GRID | SAME_TEAM_ALLOWED))).astype(np.int64),
            goalless.astype(np.int64),
            *(word.view(np.int64) for word in other.languages),
        )
        sample = np.full(int(kind.max(initial=-1)) + 1, -1, dtype=np.int64)
        sample[kind[::-1]] = np.arange(len(kind) - 1, -1, -1)
        return kind, sample

    def matrix(self) -> Reals:
        """(other side's rows, profiles) estimates, minus infinity where never allowed."""
        shares = np.array(self.round_.shares, dtype=np.float32)
        columns = self.sample
        by_kind = (
            shares[1] * self._seniority(columns)
            + shares[3] * self._language(columns)
            + shares[4] * self._team(columns)
        )
        if not self.mentees:
            # A mentee without goals scores neutral coverage with anyone; others score 0
            # with a mentor sharing none of their goals (those sharing one are found per goal).
            goalless = self.round_.skills.goal_count[columns] == 0
            by_kind += shares[0] * np.float32(NEUTRAL) * goalless[None, :]
        by_kind = np.where(self._allowed(columns), by_kind, -np.inf).astype(np.float32).T.copy()
        width = len(self.other.person)
        out = np.empty((width, self.profiles.count), dtype=np.float32)
        for start in range(0, width, 1 << 14):
            rows = np.arange(start, min(width, start + (1 << 14)), dtype=np.int64)
            out[rows] = by_kind[self.kind[rows]] + shares[2] * self._availability(rows).T
        return out

    def _seniority(self, columns: Ints) -> Reals:
        low, high = self.round_.seniority
        sample = self.profiles.sample
        mine, theirs = self.side.level[sample][:, None], self.other.level[columns][None, :]
        gap = theirs - mine if self.mentees else mine - theirs
        distance = np.minimum(np.maximum(np.maximum(low - gap, gap - high), 0), 3).astype(np.float32)
        value = 1 - distance / 3
        known = self.side.has(HAS_LEVEL)[sample][:, None] & self.other.has(HAS_LEVEL)[columns][None, :]
        return np.where(known, value, np.float32(NEUTRAL))

    def _availability(self, columns: Ints) -> Reals:
        minutes = 60 * (self.hours @ self.other_hours[columns].T)
        value = np.minimum(np.float32(1), minutes / TARGET_OVERLAP_MINUTES)
        value = np.where(self.other.has(HAS_AVAILABILITY)[columns][None, :], value, np.float32(NEUTRAL))
        present = self.present[:, None]
        return present * value + (1 - present) * np.float32(NEUTRAL)

    def _language(self, columns: Ints) -> Reals:
        spoken = np.zeros((len(self.masks), len(columns)), dtype=np.bool_)
        for word, theirs in enumerate(self.other.languages):
            spoken |= (self.masks[:, word][:, None] & theirs[columns][None, :]) != 0
        stated = (self.masks != 0).any(axis=1)[:, None] & self.other.has(HAS_LANGUAGES)[columns][None, :]
        value = np.where(stated, spoken.astype(np.float32), np.float32(NEUTRAL))
        return self.language_share @ value

    def _team(self, columns: Ints) -> Reals:
        # Teammates are rarely both allowed, so a known team is taken to differ.
        known = self.team_known[:, None]
        value = np.where(self.other.has(HAS_TEAM)[columns][None, :], np.float32(1), np.float32(NEUTRAL))
        return known * value + (1 - known) * np.float32(NEUTRAL)

    def _allowed(self, columns: Ints) -> Bools:
        """External mentors only for those who opted in; no time-zone gap beyond a limit."""
        sample = self.profiles.sample
        gap = np.abs(self.side.offset[sample][:, None] - self.other.offset[columns][None, :])
        limit = np.minimum(self.side.max_gap[sample][:, None], self.other.max_gap[columns][None, :])
        ok: Bools = ~(gap > limit)
        mine, theirs = self.side.flags[sample][:, None], self.other.flags[columns][None, :]
        mentee_flags, mentor_flags = (mine, theirs) if self.mentees else (theirs, mine)
        ok &= ((mentor_flags & EXTERNAL) == 0) | ((mentee_flags & ACCEPTS_EXTERNAL) != 0)
        return ok


def _mean(values: NDArray[np.floating], profiles: _Profiles) -> NDArray[np.float64]:
    """The mean of ``values`` (rows × ...) over each profile's members."""
    ordered = values[profiles.rows].astype(np.float64)
    sums = np.add.reduceat(ordered, profiles.starts, axis=0)
    sizes = np.diff(np.append(profiles.starts, len(profiles.rows)))
    return np.asarray(sums / sizes.reshape((-1,) + (1,) * (ordered.ndim - 1)), dtype=np.float64)


def _group_of(*columns: Ints) -> Ints:
    """Each row's group number, rows with equal values in every column sharing one."""
    key = np.zeros(len(columns[0]), dtype=np.int64)
    for column in columns:
        # Renumber each column densely first, so that the combined key cannot overflow.
        values, dense = np.unique(column, return_inverse=True)
        key = key * len(values) + dense.reshape(-1)
        _, key = np.unique(key, return_inverse=True)
        key = key.reshape(-1).astype(np.int64)
    return key


def _hours(side: Side) -> Reals:
    """The share of each hour of the week someone is available (from half-hour slots)."""
    slots = slot_matrix(side)
    return ((slots[:, 0::2] + slots[:, 1::2]) * np.float32(0.5)).astype(np.float32)


def _top(matrix: Reals, keep: int) -> Ints:
    """Column indices of each row's ``keep`` largest entries, best first (all if fewer).
    Which of tied entries make the cut is numpy's ``argpartition``'s choice; the order
    among the kept is compiled (``best_first``)."""
    if matrix.shape[1] > keep:
        return best_first(matrix, np.argpartition(-matrix, keep - 1, axis=1)[:, :keep])
    return best_first(matrix)


def _fallback(
    grouped: _Grouped, keep: int, wide: int, wants_wide: Bools | None, columns: Ints | None = None
) -> Iterator[Pairs]:
    """Every member of a profile gets the ``keep`` people (of ``columns``, else everyone on
    the other side) with the profile's best estimate, the ``wide`` best if ``wants_wide``.
    Pairs come mentee first whichever side is grouped."""
    profiles = grouped.profiles
    estimate = (grouped.estimate if columns is None else grouped.estimate[columns]).T
    if columns is None:
        columns = np.arange(estimate.shape[1], dtype=np.int64)
    if len(columns) == 0:
        return
    best = _top(estimate, max(keep, wide))
    for profile in range(profiles.count):
        chosen = best[profile][np.isfinite(estimate[profile, best[profile]])]
        members = profiles.members(profile)
        if wants_wide is not None:
            yield from _offer(members[wants_wide[members]], columns[chosen[:wide]], grouped.mentees)
            members = members[~wants_wide[members]]
        yield from _offer(members, columns[chosen[:keep]], grouped.mentees)


def _offer(members: Ints, chosen: Ints, mentees: bool) -> Iterator[Pairs]:
    if len(members) and len(chosen):
        mine, theirs = np.repeat(members, len(chosen)), np.tile(chosen, len(members))
        yield (mine, theirs) if mentees else (theirs, mine)


# --- blocking by skill -------------------------------------------------------------------


@dataclass(frozen=True)
class _Terms:
    """Who wants and who offers each term (a goal some mentor has as a skill)."""

    wanting: list[Ints]  # mentee rows by term
    offering: list[Ints]  # mentor rows by term
    # Mentee ``r``'s goals that are terms: entries ``goal_starts[r]`` to ``goal_starts[r + 1]``
    # of ``goal_terms``, each worth ``goal_values`` (1 / the mentee's number of goals).
    goal_starts: Ints
    goal_terms: Ints
    goal_values: NDArray[np.float64]

    @staticmethod
    def of(round_: Round) -> _Terms:
        skills = round_.skills
        count = len(skills.terms)
        rows, columns = np.nonzero(count > skills.goals.T)
        terms = skills.goals.T[rows, columns].astype(np.int64)
        by_term = np.argsort(terms, kind="stable")
        bounds = np.searchsorted(terms[by_term], np.arange(count + 1))
        wanting = [rows[by_term[bounds[t] : bounds[t + 1]]].astype(np.int64) for t in range(count)]
        offer_terms, offer_rows = np.nonzero(skills.codes.reshape(count + 1, -1)[:count])
        offer_bounds = np.searchsorted(offer_terms, np.arange(count + 1))
        offering = [offer_rows[offer_bounds[t] : offer_bounds[t + 1]].astype(np.int64) for t in range(count)]
        starts = np.searchsorted(rows, np.arange(len(skills.goal_count) + 1)).astype(np.int64)
        return _Terms(wanting, offering, starts, terms, 1.0 / skills.goal_count[rows])

    def goals_of(self, rows: Ints) -> tuple[Ints, Ints, NDArray[np.float64]]:
        """(position in ``rows``, term, value) of every goal of those mentees."""
        counts = self.goal_starts[rows + 1] - self.goal_starts[rows]
        owner = np.repeat(np.arange(len(rows), dtype=np.int64), counts)
        entry = _ranges(self.goal_starts[rows], counts)
        return owner, self.goal_terms[entry], self.goal_values[entry]

    def companions(self, term: int, rows: Ints) -> tuple[Ints, Reals]:
        """``term`` and the terms most wanted along with it by ``rows`` (its mentees): the
        skills that make a mentor promising for them beyond the term itself; and the
        mentees' goal vectors (1 / number of goals per term) over those terms."""
        owner, wanted, value = self.goals_of(rows)
        mass = np.bincount(wanted, weights=value, minlength=len(self.wanting))
        mass[term] = np.inf
        chosen = np.argsort(-mass, kind="stable")[:COMPANIONS]
        columns = np.sort(chosen[mass[chosen] > 0]).astype(np.int64)
        position = np.full(len(self.wanting), -1, dtype=np.int64)
        position[columns] = np.arange(len(columns))
        keep = position[wanted] >= 0
        vectors = np.zeros((len(rows), len(columns)), dtype=np.float32)
        vectors[owner[keep], position[wanted[keep]]] = value[keep]
        return columns, vectors


def _ranges(starts: Ints, counts: Ints) -> Ints:
    """The concatenation of ``range(start, start + count)`` for each pair."""
    total = int(counts.sum())
    offsets = np.repeat(np.cumsum(counts) - counts, counts)
    return np.arange(total, dtype=np.int64) - offsets + np.repeat(starts, counts)


def _skill_vectors(round_: Round, rows: Ints, columns: Ints) -> Reals:
    skills = round_.skills
    mentors = len(round_.mentors.person)
    places = columns[None, :] * mentors + rows[:, None]
    return np.asarray(skills.weights[skills.codes[places]], dtype=np.float32)


def _clusters(members: Ints, profiles: _Profiles) -> tuple[Ints, Ints]:
    """Members grouped by profile: (profile of each cluster, cluster of each member)."""
    present = np.zeros(profiles.count, dtype=np.int64)
    present[profiles.of[members]] = 1
    number = np.cumsum(present) - 1
    return np.flatnonzero(present).astype(np.int64), number[profiles.of[members]]


def _by_term(
    round_: Round, terms: _Terms, mentee_side: _Grouped, mentor_side: _Grouped | None, part: int
) -> list[list[Batch]]:
    """For each goal of slice ``part`` (of ``PARTS``): its mentees by offset and level, each
    cluster's ``PER_GOAL`` mentors; and (with ``mentor_side``) its mentors by offset and
    level, each cluster's ``PER_SKILL`` mentees. (Goal batches, skill batches.)"""
    share = round_.shares[0]
    goals: list[Batch] = []
    skills: list[Batch] = []
    for term in range(part, len(terms.wanting), PARTS):
        wanting, offering = terms.wanting[term], terms.offering[term]
        if len(wanting) == 0 or len(offering) == 0:
            continue
        columns, wanted = terms.companions(term, wanting)
        offered = _skill_vectors(round_, offering, columns)
        goals.append(_by_goal(share, mentee_side, wanting, offering, wanted, offered))
        if mentor_side is not None:
            skills.append(_by_skill(share, mentor_side, wanting, offering, wanted, offered))
    return [goals, skills]


def _by_goal(
    share: float, grouped: _Grouped, wanting: Ints, offering: Ints, wanted: Reals, offered: Reals
) -> Pairs:
    """A goal's mentees by offset and level, each cluster's ``PER_GOAL`` mentors, given the
    goal's mentees' and mentors' vectors over its companions."""
    profile, of = _clusters(wanting, grouped.profiles)
    promise = promises(share, wanted, of, offered, grouped.estimate, offering, profile)
    best = offering[_top(promise, PER_GOAL)]
    return np.repeat(wanting, best.shape[1]), best[of].reshape(-1)


def _by_skill(
    share: float, grouped: _Grouped, wanting: Ints, offering: Ints, wanted: Reals, offered: Reals
) -> Pairs:
    """A skill's mentors by offset and level, each cluster's ``PER_SKILL`` mentees."""
    profile, of = _clusters(offering, grouped.profiles)
    promise = promises(share, offered, of, wanted, grouped.estimate, wanting, profile)
    best = wanting[_top(promise, PER_SKILL)]
    return best[of].reshape(-1), np.repeat(offering, best.shape[1])


# --- blocking by time --------------------------------------------------------------------


def _starts(side: Side) -> NDArray[np.bool_]:
    """(rows, slots): where TARGET_OVERLAP_MINUTES of availability begin without a break."""
    slots = slot_matrix(side).astype(np.bool_)
    run = TARGET_OVERLAP_MINUTES // SLOT_MINUTES
    width = slots.shape[1] - run + 1
    full = slots[:, :width].copy()
    for step in range(1, run):
        full &= slots[:, step : step + width]
    return full


def _by_shared_time(round_: Round, terms: _Terms) -> Iterator[Spans]:
    """For each goal and half hour, the ``PER_START`` mentors covering it best who are free
    for two hours from then, offered to each mentee wanting it and free then too."""
    skills = round_.skills
    mentors = len(round_.mentors.person)
    mentor_starts, mentee_starts = _starts(round_.mentors), _starts(round_.mentees)
    width = mentor_starts.shape[1]
    # Each goal's mentors' starts, all goals at once: every mentor's starts listed once, by
    # mentor, and looked up for each goal's mentors.
    counted = [t for t, offering in enumerate(terms.offering) if len(offering) and len(terms.wanting[t])]
    if not counted:
        return
    offering = np.concatenate([terms.offering[t] for t in counted])
    term_of = np.repeat(np.array(counted, dtype=np.int64), [len(terms.offering[t]) for t in counted])
    who, when = np.nonzero(mentor_starts)
    begins = np.searchsorted(who, np.arange(mentors + 1))
    counts = begins[offering + 1] - begins[offering]
    at = _ranges(begins[offering], counts)
    term_of, row = np.repeat(term_of, counts), offering.repeat(counts)
    key = term_of * width + when[at]
    weight = skills.weights[skills.codes[term_of * mentors + row]]
    order = np.lexsort((row, -weight, key))
    key, row = key[order], row[order]
    kept = places(key) < PER_START
    key, row = key[kept], row[kept]
    bounds = np.searchsorted(key, np.arange(len(terms.wanting) * width + 1))
    # Every (mentee, start) once, by mentee; then each goal's mentees look theirs up.
    owner, start = np.nonzero(mentee_starts)
    first = np.searchsorted(owner, np.arange(len(mentee_starts) + 1))
    for term, wanting in enumerate(terms.wanting):
        if len(wanting):
            counts = first[wanting + 1] - first[wanting]
            at = start[_ranges(first[wanting], counts)]
            lo, hi = bounds[term * width + at], bounds[term * width + at + 1]
            # By reference: a goal's mentees free at one time share its run of mentors.
            yield Spans(np.repeat(wanting, counts), lo, hi, row)
