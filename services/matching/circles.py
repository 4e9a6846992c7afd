"""Peer circles: small groups at a similar career stage who share an interest or a goal and can
meet across their time zones, each person in at most one new circle per round.

Every circle keeps these rules:

- ``min_size`` to ``max_size`` members, all active, all having the circle's topic among their
  interests or goals;
- levels at most ``max_level_spread`` apart. People whose level is unknown are grouped only with
  each other: their career stage cannot be compared, so it is not guessed (and their circle has
  no facilitator);
- time zones no further apart than the smallest limit any member accepts (their
  ``max_time_zone_gap_hours``, else ``default_max_gap_hours``). People without a time zone are
  left out, because no workable meeting time can be checked for them;
- no two members who shared a circle before (``together_before``).

Placing as many people as possible under these rules is a set-partitioning problem (NP-hard),
so this is a deterministic greedy in two phases, each of which ends in a state that can be
checked:

1. Seed. A *pool* is a largest set of unplaced people who share a topic and fit one level band
   and one time-zone window, so any ``min_size`` of them who never met make a valid circle.
   Each person who can start a circle proposes one: in their most popular pool (popular topics
   leave the most people behind them with a choice), with their least flexible partners. The
   proposals of the ``LOOKAHEAD`` least flexible people (fewest topics with a pool, then fewest
   possible partners) are compared, and the one after which the most people could still start
   or join a circle is formed. People with few options are thus placed while they have them,
   without taking the only partners of someone else when that can be seen one step ahead.
   Circles start at ``min_size`` because more circles means more seats in the fill phase.
   Ends when no ``min_size`` unplaced people could form a circle together.
2. Fill. While an unplaced person fits a circle with room, the one with the fewest such circles
   joins the smallest of them, which keeps circles even and leaves the larger choice to others.
   Ends when no unplaced person could join any circle.

Ties are broken by person id and topic name on input sorted by id, so the result depends only on
the set of people given, never on their order.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice

from services.matching.candidates import Candidate


@dataclass(frozen=True)
class Circle:
    topic: str
    """The shared interest or goal the circle is about."""
    member_ids: tuple[str, ...]
    """Sorted."""
    facilitator_id: str | None
    """The most senior member (the smallest id among equals); None when levels are unknown."""


@dataclass(frozen=True)
class _Rules:
    min_size: int
    max_size: int
    max_level_spread: int
    default_max_gap_hours: float
    met: Mapping[str, frozenset[str]]
    """Everyone each person shared a circle with before."""

    def gap_limit(self, person: Candidate) -> float:
        stated = person.preferences.max_time_zone_gap_hours
        return self.default_max_gap_hours if stated is None else stated

    def fits(self, members: Sequence[Candidate]) -> bool:
        """Whether these people may sit in one circle (the shared topic is checked by callers)."""
        return (
            _levels_fit(members, self.max_level_spread)
            and _zones_fit(members, self)
            and not any(self.met_before(a.person_id, b.person_id) for a, b in _pairs(members))
        )

    def met_before(self, a: str, b: str) -> bool:
        return b in self.met.get(a, frozenset())


@dataclass(frozen=True)
class _Pool:
    topic: str
    member_ids: frozenset[str]

    def order(self) -> tuple[int, str, tuple[str, ...]]:
        """Most popular first, so the people left behind have the widest choice."""
        return -len(self.member_ids), self.topic, tuple(sorted(self.member_ids))


@dataclass
class _Draft:
    topic: str
    members: list[Candidate] = field(default_factory=list)

    def ids(self) -> tuple[str, ...]:
        return tuple(sorted(m.person_id for m in self.members))


def form_circles(
    people: Sequence[Candidate],
    *,
    min_size: int = 4,
    max_size: int = 6,
    max_level_spread: int = 1,
    default_max_gap_hours: float = 6,
    together_before: frozenset[frozenset[str]] = frozenset(),
) -> list[Circle]:
    """This round's circles, sorted by topic then members; see the module docstring for the rules
    and the algorithm.

    ``together_before`` holds sets of people who already shared a circle (pairs, or whole past
    circles): no two people of one set are grouped again. Whether someone asked for a circle is
    the caller's filter; inactive people and people without a time zone are never placed.
    """
    rules = _rules(min_size, max_size, max_level_spread, default_max_gap_hours, together_before)
    unplaced = {p.person_id: p for p in _eligible(people)}
    drafts = _seed(unplaced, rules)
    _fill(drafts, unplaced, rules)
    circles = [Circle(d.topic, d.ids(), _facilitator(d.members)) for d in drafts]
    return sorted(circles, key=lambda c: (c.topic, c.member_ids))


def explain_left_out(
    people: Sequence[Candidate],
    circles: Sequence[Circle],
    *,
    min_size: int = 4,
    max_size: int = 6,
    max_level_spread: int = 1,
    default_max_gap_hours: float = 6,
    together_before: frozenset[frozenset[str]] = frozenset(),
) -> dict[str, str]:
    """Why each person given is in none of ``circles``, in plain words, by person id.

    Pass the same rules as to ``form_circles``; the reason is the first that applies.
    """
    rules = _rules(min_size, max_size, max_level_spread, default_max_gap_hours, together_before)
    placed = {member for circle in circles for member in circle.member_ids}
    eligible = {p.person_id: p for p in _eligible(people)}
    # Pools over everyone, placed or not: who could have met at all, before anyone was placed.
    could_meet = {member for pool in _pools(eligible, rules) for member in pool.member_ids}
    reasons: dict[str, str] = {}
    for person in sorted(people, key=lambda p: p.person_id):
        if person.person_id not in placed:
            reasons[person.person_id] = _reason(person, could_meet, rules)
    return reasons


def _reason(person: Candidate, could_meet: set[str], rules: _Rules) -> str:
    if not person.active:
        return "not active"
    if person.utc_offset_hours is None:
        return "no time zone on their profile, so no workable meeting time can be checked"
    if not _topics(person):
        return "no interests or goals to share"
    if person.person_id not in could_meet:
        return (
            f"fewer than {rules.min_size} people at a similar career stage, in time zones they can "
            "work with, share any of their interests or goals"
        )
    return (
        "the people they fit with were placed in other circles, and every circle they fit is full "
        "or includes someone they shared a circle with before"
    )


def _rules(
    min_size: int,
    max_size: int,
    max_level_spread: int,
    default_max_gap_hours: float,
    together_before: frozenset[frozenset[str]],
) -> _Rules:
    if not 2 <= min_size <= max_size:
        raise ValueError(f"circle sizes must satisfy 2 <= min_size <= max_size, not {min_size}..{max_size}")
    if max_level_spread < 0 or default_max_gap_hours < 0:
        raise ValueError("the level spread and the time-zone gap cannot be negative")
    met: defaultdict[str, set[str]] = defaultdict(set)
    for group in together_before:
        for person_id in group:
            met[person_id] |= group - {person_id}
    return _Rules(
        min_size,
        max_size,
        max_level_spread,
        default_max_gap_hours,
        {person_id: frozenset(others) for person_id, others in met.items()},
    )


def _eligible(people: Sequence[Candidate]) -> list[Candidate]:
    """Active people with a time zone and something to share, sorted by id."""
    ids = [p.person_id for p in people]
    if len(set(ids)) != len(ids):
        raise ValueError("each person may be given only once")
    return sorted(
        (p for p in people if p.active and p.utc_offset_hours is not None and _topics(p)),
        key=lambda p: p.person_id,
    )


def _topics(person: Candidate) -> frozenset[str]:
    return person.interests | person.goals


def _offset(person: Candidate) -> float:
    # Only people with a time zone are ever grouped (see _eligible).
    assert person.utc_offset_hours is not None
    return person.utc_offset_hours


def _levels_fit(members: Sequence[Candidate], spread: int) -> bool:
    ranks = [m.level_rank for m in members]
    known = [r for r in ranks if r is not None]
    if not known:
        return True
    return len(known) == len(ranks) and max(known) - min(known) <= spread


def _zones_fit(members: Sequence[Candidate], rules: _Rules) -> bool:
    offsets = [_offset(m) for m in members]
    return max(offsets) - min(offsets) <= min(rules.gap_limit(m) for m in members)


def _pairs(members: Sequence[Candidate]) -> Iterator[tuple[Candidate, Candidate]]:
    for i, first in enumerate(members):
        for second in members[i + 1 :]:
            yield first, second


def _facilitator(members: Sequence[Candidate]) -> str | None:
    ranked = [(m.level_rank, m.person_id) for m in members if m.level_rank is not None]
    if not ranked:
        return None
    return min(ranked, key=lambda r: (-r[0], r[1]))[1]


# Phase 1: seed circles of min_size.

# How many proposed circles the seed phase compares before forming one. On crowded small pools,
# comparing 4 rather than taking the first places about 99% instead of 94-96% of the people an
# exact search places (see the unit tests); comparing more gains little and costs time.
LOOKAHEAD = 4


@dataclass(frozen=True)
class _Seed:
    topic: str
    member_ids: tuple[str, ...]


def _seed(unplaced: dict[str, Candidate], rules: _Rules) -> list[_Draft]:
    """Circles of ``min_size`` until no more can be formed; their members leave ``unplaced``."""
    drafts: list[_Draft] = []
    pools_by_topic = _pools_by_topic(unplaced, rules, _all_topics(unplaced.values()))
    # Someone who cannot start a circle now never can: pools only shrink as people are placed.
    stuck: set[str] = set()
    while (seed := _next_seed(pools_by_topic, unplaced, stuck, rules)) is not None:
        members = [unplaced.pop(member_id) for member_id in seed.member_ids]
        drafts.append(_Draft(seed.topic, members))
        pools_by_topic.update(_pools_by_topic(unplaced, rules, _all_topics(members)))
    return drafts


def _next_seed(
    pools_by_topic: Mapping[str, list[_Pool]],
    unplaced: Mapping[str, Candidate],
    stuck: set[str],
    rules: _Rules,
) -> _Seed | None:
    """Of the first few candidates, the one after which the most people could still be placed:
    a one-step lookahead, because the least flexible person's circle may take the only partners
    of someone else."""
    candidates = list(islice(_candidate_seeds(pools_by_topic, stuck, rules), LOOKAHEAD))
    if not candidates:
        return None
    # max keeps the first of equals, so ties go to the least flexible person.
    return max(candidates, key=lambda seed: _placeable_after(seed, pools_by_topic, unplaced, rules))


def _placeable_after(
    seed: _Seed,
    pools_by_topic: Mapping[str, list[_Pool]],
    unplaced: Mapping[str, Candidate],
    rules: _Rules,
) -> int:
    """How many people, after ``seed`` is formed, could still start a circle or join it."""
    rest = {person_id: p for person_id, p in unplaced.items() if person_id not in seed.member_ids}
    members = [unplaced[member_id] for member_id in seed.member_ids]
    after = {**pools_by_topic, **_pools_by_topic(rest, rules, _all_topics(members))}
    in_pools = {member for pools in after.values() for pool in pools for member in pool.member_ids}
    draft = _Draft(seed.topic, members)
    joiners = {person_id for person_id, p in rest.items() if _can_join(p, draft, rules)}
    return len(in_pools | joiners)


def _candidate_seeds(
    pools_by_topic: Mapping[str, list[_Pool]], stuck: set[str], rules: _Rules
) -> Iterator[_Seed]:
    """A circle of ``min_size`` for each person who can start one, least flexible first, in
    their most popular pool that has one, with the least flexible partners."""
    pools = [pool for topic in sorted(pools_by_topic) for pool in pools_by_topic[topic]]
    flexibility = _flexibility(pools)

    def least_flexible(person_id: str) -> tuple[int, int, str]:
        return (*flexibility[person_id], person_id)

    for person_id in sorted(flexibility.keys() - stuck, key=least_flexible):
        seed = None
        for pool in sorted((pool for pool in pools if person_id in pool.member_ids), key=_Pool.order):
            partners = sorted(pool.member_ids - {person_id}, key=least_flexible)
            group = _strangers(person_id, partners, rules)
            if group is not None:
                seed = _Seed(pool.topic, group)
                break
        if seed is None:
            stuck.add(person_id)
        else:
            yield seed


def _flexibility(pools: Sequence[_Pool]) -> dict[str, tuple[int, int]]:
    """Per person in any pool: how many topics they could meet on, and with how many people."""
    topics: defaultdict[str, set[str]] = defaultdict(set)
    partners: defaultdict[str, set[str]] = defaultdict(set)
    for pool in pools:
        for member_id in pool.member_ids:
            topics[member_id].add(pool.topic)
            partners[member_id] |= pool.member_ids
    return {person_id: (len(topics[person_id]), len(partners[person_id]) - 1) for person_id in topics}


def _strangers(first: str, partners: Sequence[str], rules: _Rules) -> tuple[str, ...] | None:
    """``first`` and ``min_size - 1`` of ``partners`` (taken in their order of preference) of whom
    no two shared a circle before, or None when there are no such people.

    Depth-first, so it is exact; it is fast because past circles are small and few, so nearly
    every first choice succeeds.
    """

    def extend(chosen: tuple[str, ...], start: int) -> tuple[str, ...] | None:
        missing = rules.min_size - len(chosen)
        if missing == 0:
            return chosen
        for index in range(start, len(partners) - missing + 1):
            candidate = partners[index]
            if not any(rules.met_before(candidate, member) for member in chosen):
                found = extend((*chosen, candidate), index + 1)
                if found is not None:
                    return found
        return None

    return extend((first,), 0)


def _all_topics(people: Iterable[Candidate]) -> set[str]:
    return {topic for person in people for topic in _topics(person)}


def _pools(people: Mapping[str, Candidate], rules: _Rules) -> list[_Pool]:
    by_topic = _pools_by_topic(people, rules, _all_topics(people.values()))
    return [pool for topic in sorted(by_topic) for pool in by_topic[topic]]


def _pools_by_topic(
    people: Mapping[str, Candidate], rules: _Rules, topics: Iterable[str]
) -> dict[str, list[_Pool]]:
    """The pools of each of ``topics`` among ``people`` (an empty list when there are none)."""
    by_topic: dict[str, list[_Pool]] = {}
    for topic in sorted(topics):
        sharing = [p for p in people.values() if topic in _topics(p)]
        groups = _largest_groups(sharing, rules) if len(sharing) >= rules.min_size else []
        by_topic[topic] = [_Pool(topic, group) for group in groups]
    return by_topic


def _largest_groups(people: Sequence[Candidate], rules: _Rules) -> list[frozenset[str]]:
    """The largest sets of ``people`` with at least ``min_size`` members that fit one level band
    and one time-zone window, so any subset of one fits the level and time-zone rules."""
    groups = {
        window
        for band in _level_bands(people, rules.max_level_spread)
        for window in _zone_windows(band, rules)
        if len(window) >= rules.min_size
    }
    # A group inside another offers no circle the larger one does not. Largest first, so each
    # group is compared with the few kept ones only.
    largest: list[frozenset[str]] = []
    for group in sorted(groups, key=lambda g: (-len(g), sorted(g))):
        if not any(group <= kept for kept in largest):
            largest.append(group)
    return largest


def _level_bands(people: Sequence[Candidate], spread: int) -> list[list[Candidate]]:
    """People whose levels lie in ``[low, low + spread]``, for each level present, and the people
    whose level is unknown, who only ever sit together."""
    ranks = sorted({p.level_rank for p in people if p.level_rank is not None})
    bands = [
        [p for p in people if p.level_rank is not None and low <= p.level_rank <= low + spread]
        for low in ranks
    ]
    return [*bands, [p for p in people if p.level_rank is None]]


def _zone_windows(people: Sequence[Candidate], rules: _Rules) -> Iterator[frozenset[str]]:
    """For each pair of offsets ``low <= high``: everyone between them who accepts that gap.

    Any valid circle lies in the window of its own lowest and highest offsets, so these windows
    miss none.
    """
    by_offset = sorted((_offset(p), rules.gap_limit(p), p.person_id) for p in people)
    offsets = sorted({offset for offset, _, _ in by_offset})
    widest = max((limit for _, limit, _ in by_offset), default=0.0)
    for index, low in enumerate(offsets):
        first = bisect_left(by_offset, low, key=_first)
        for high in offsets[index:]:
            gap = high - low
            if gap > widest:
                break
            last = bisect_right(by_offset, high, key=_first)
            yield frozenset(person_id for _, limit, person_id in by_offset[first:last] if limit >= gap)


def _first(row: tuple[float, float, str]) -> float:
    return row[0]


# Phase 2: fill circles up to max_size.


def _fill(drafts: list[_Draft], unplaced: dict[str, Candidate], rules: _Rules) -> None:
    """Seat unplaced people in circles with room until nobody left fits one."""
    options = {
        person_id: {index for index, draft in enumerate(drafts) if _can_join(person, draft, rules)}
        for person_id, person in unplaced.items()
    }
    while any(options.values()):
        person_id = min((p for p in options if options[p]), key=lambda p: (len(options[p]), p))
        index = min(
            options.pop(person_id), key=lambda i: (len(drafts[i].members), drafts[i].topic, drafts[i].ids())
        )
        drafts[index].members.append(unplaced.pop(person_id))
        # A joiner only ever narrows who else fits that circle, never anyone's other circles.
        for other_id, theirs in options.items():
            if index in theirs and not _can_join(unplaced[other_id], drafts[index], rules):
                theirs.discard(index)


def _can_join(person: Candidate, draft: _Draft, rules: _Rules) -> bool:
    return (
        len(draft.members) < rules.max_size
        and draft.topic in _topics(person)
        and rules.fits([*draft.members, person])
    )
