"""Peer circles: 4 to 6 people at a similar career stage, sharing a topic, in workable time zones,
each in at most one circle per round, and as many people placed as possible."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from itertools import combinations
from random import Random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.matching.candidates import Candidate
from services.matching.circles import Circle, explain_left_out, form_circles
from tests.support.builders import candidate

TOPICS = ("python", "kafka", "leadership", "design")


def person(
    person_id: str,
    *topics: str,
    level: int | None = 2,
    offset: float | None = 0.0,
    gap: int | None = None,
    active: bool = True,
) -> Candidate:
    return candidate(
        person_id,
        interests=frozenset(topics),
        level_rank=level,
        utc_offset_hours=offset,
        max_time_zone_gap_hours=gap,
        active=active,
    )


def placed(circles: Sequence[Circle]) -> list[str]:
    return sorted(member for circle in circles for member in circle.member_ids)


@dataclass(frozen=True)
class Rules:
    min_size: int = 4
    max_size: int = 6
    max_level_spread: int = 1
    default_max_gap_hours: float = 6
    together_before: frozenset[frozenset[str]] = frozenset()

    def form(self, people: Sequence[Candidate]) -> list[Circle]:
        return form_circles(
            people,
            min_size=self.min_size,
            max_size=self.max_size,
            max_level_spread=self.max_level_spread,
            default_max_gap_hours=self.default_max_gap_hours,
            together_before=self.together_before,
        )

    def broken(self, topic: str, members: Sequence[Candidate]) -> list[str]:
        """Every rule these people would break as one circle on ``topic``, checked from scratch."""
        broken = []
        if not self.min_size <= len(members) <= self.max_size:
            broken.append("size")
        if any(not m.active for m in members):
            broken.append("inactive member")
        if any(topic not in m.interests | m.goals for m in members):
            broken.append("topic not shared")
        levels = [m.level_rank for m in members]
        known = [level for level in levels if level is not None]
        if known and (len(known) < len(levels) or max(known) - min(known) > self.max_level_spread):
            broken.append("levels")
        offsets = [m.utc_offset_hours for m in members]
        limits = [
            self.default_max_gap_hours
            if m.preferences.max_time_zone_gap_hours is None
            else m.preferences.max_time_zone_gap_hours
            for m in members
        ]
        if None in offsets:
            broken.append("time zone unknown")
        elif max(o for o in offsets if o is not None) - min(o for o in offsets if o is not None) > min(
            limits
        ):
            broken.append("time zones")
        if any(
            frozenset({a.person_id, b.person_id}) <= met
            for a, b in combinations(members, 2)
            for met in self.together_before
        ):
            broken.append("met before")
        return broken

    def valid(self, topic: str, members: Sequence[Candidate]) -> bool:
        return not self.broken(topic, members)


# Examples.


def test_a_person_with_a_niche_interest_is_not_crowded_out_by_a_popular_topic() -> None:
    people = [person(f"P{i}", "python", *(["kafka"] if i < 3 else [])) for i in range(8)]
    people.append(person("K", "kafka"))

    circles = form_circles(people)

    assert placed(circles) == sorted(p.person_id for p in people)
    assert [c.topic for c in circles] == ["kafka", "python"]


def test_ten_people_on_one_topic_make_two_circles_of_five_rather_than_strand_four() -> None:
    circles = form_circles([person(f"P{i}", "python") for i in range(10)])
    assert [len(c.member_ids) for c in circles] == [5, 5]


def test_seven_people_on_one_topic_make_one_full_circle_as_no_two_circles_fit() -> None:
    circles = form_circles([person(f"P{i}", "python") for i in range(7)])
    assert [len(c.member_ids) for c in circles] == [6]


def test_a_circle_does_not_take_the_only_partners_someone_else_has() -> None:
    # Seniors D (UTC+0) and E (UTC+7) can each start a circle only with B and C (UTC+3). D comes
    # first by id, but giving B and C to D strands five people; giving them to E lets A, G, H and
    # I meet, so only D is left out.
    people = [
        person("A", "python", level=1, offset=3),
        person("B", "python", level=3, offset=3),
        person("C", "python", level=2, offset=3),
        person("D", "python", level=3, offset=0),
        person("E", "python", level=3, offset=7),
        person("F", "python", level=2, offset=7),
        person("G", "python", level=1, offset=0),
        person("H", "python", level=2, offset=0),
        person("I", "python", level=1, offset=1),
    ]
    rules = Rules(together_before=frozenset({frozenset({"G", "B"}), frozenset({"I", "F"})}))

    circles = rules.form(people)

    assert len(placed(circles)) == 8
    assert explain_left_out(people, circles, together_before=rules.together_before) == {
        "D": "the people they fit with were placed in other circles, and every circle they fit is "
        "full or includes someone they shared a circle with before"
    }


def test_the_most_senior_member_facilitates_and_equals_are_told_apart_by_id() -> None:
    people = [
        person("D", "sql", level=3),
        person("B", "sql", level=3),
        person("A", "sql"),
        person("C", "sql"),
    ]
    assert form_circles(people) == [Circle("sql", ("A", "B", "C", "D"), facilitator_id="B")]


def test_people_of_unknown_level_sit_only_together_and_have_no_facilitator() -> None:
    known = [person(f"K{i}", "sql", level=2) for i in range(3)]
    unknown = [person(f"U{i}", "sql", level=None) for i in range(4)]
    assert form_circles([*known, *unknown]) == [Circle("sql", ("U0", "U1", "U2", "U3"), facilitator_id=None)]


def test_inactive_people_and_people_without_a_time_zone_are_never_placed() -> None:
    people = [
        *(person(f"P{i}", "sql") for i in range(3)),
        person("OFF", "sql", active=False),
        person("NOWHERE", "sql", offset=None),
    ]

    assert form_circles(people) == []
    reasons = explain_left_out(people, [])
    assert reasons["OFF"] == "not active"
    assert reasons["NOWHERE"].startswith("no time zone on their profile")
    assert reasons["P0"].startswith("fewer than 4 people at a similar career stage")


def test_someone_who_accepts_only_a_small_time_zone_gap_is_not_put_in_a_wider_circle() -> None:
    near = [person(f"N{i}", "sql", offset=float(i)) for i in range(4)]
    strict = person("S", "sql", offset=0.0, gap=1)
    circles = form_circles([*near, strict])
    assert placed(circles) == ["N0", "N1", "N2", "N3"]


def test_people_who_shared_a_circle_before_are_not_grouped_again() -> None:
    people = [person(f"P{i:02d}", "sql") for i in range(16)]
    last_round = frozenset(frozenset(f"P{i:02d}" for i in range(start, start + 4)) for start in (0, 4, 8, 12))

    circles = form_circles(people, together_before=last_round)

    assert len(placed(circles)) == 16
    assert all(len(set(c.member_ids) & group) <= 1 for c in circles for group in last_round)


def test_someone_without_interests_or_goals_is_told_so() -> None:
    assert explain_left_out([person("A")], []) == {"A": "no interests or goals to share"}


def test_impossible_rules_are_refused() -> None:
    with pytest.raises(ValueError, match="min_size"):
        form_circles([], min_size=5, max_size=4)
    with pytest.raises(ValueError, match="min_size"):
        form_circles([], min_size=1)
    with pytest.raises(ValueError, match="negative"):
        form_circles([], max_level_spread=-1)
    with pytest.raises(ValueError, match="once"):
        form_circles([person("A", "sql"), person("A", "sql")])


# Invariants over random pools.


# One person's features: topic numbers, level, UTC offset, time-zone limit, active. Strategies are built
# once, as building them per draw costs more than running form_circles.
features = st.tuples(
    st.frozensets(st.integers(0, 5), min_size=1, max_size=2),
    st.sampled_from([None, 2, 2, 3, 3, 3, 4]),
    st.sampled_from([None, -5.0, 0.0, 0.0, 0.0, 1.0, 1.0, 3.0, 9.0]),
    st.sampled_from([None, None, None, 0, 2, 4]),
    st.sampled_from([True, True, True, True, False]),
)
# Each invariant below was also run with 3000 examples; 50 keep this file fast on a busy machine.
invariant = settings(max_examples=50, deadline=None)
past_circles = st.frozensets(st.frozensets(st.integers(0, 15), min_size=2, max_size=3), max_size=4)


@st.composite
def pools(draw: st.DrawFn) -> tuple[list[Candidate], Rules]:
    # Fewer topics make crowded pools, where circles compete for people.
    topic_count = draw(st.integers(1, 3))
    people = [
        person(
            f"p{i:02d}",
            *{TOPICS[t % topic_count] for t in topics},
            level=level,
            offset=offset,
            gap=gap,
            active=active,
        )
        for i, (topics, level, offset, gap, active) in enumerate(
            draw(st.lists(features, min_size=4, max_size=16))
        )
    ]
    min_size = draw(st.sampled_from([2, 3, 4, 4, 5]))
    rules = Rules(
        min_size=min_size,
        max_size=draw(st.integers(min_size, min_size + 3)),
        max_level_spread=draw(st.sampled_from([0, 1, 1, 2])),
        default_max_gap_hours=draw(st.sampled_from([0, 3, 6, 6, 24])),
        # Past circles may name people who are not in this pool, as in real rounds.
        together_before=frozenset(frozenset(f"p{i:02d}" for i in circle) for circle in draw(past_circles)),
    )
    return people, rules


def by_id(people: Sequence[Candidate], ids: Sequence[str]) -> list[Candidate]:
    index = {p.person_id: p for p in people}
    return [index[i] for i in ids]


@invariant
@given(pools())
def test_every_circle_keeps_every_rule(case: tuple[list[Candidate], Rules]) -> None:
    people, rules = case
    for circle in rules.form(people):
        assert rules.broken(circle.topic, by_id(people, circle.member_ids)) == []
        assert list(circle.member_ids) == sorted(circle.member_ids)


@invariant
@given(pools())
def test_no_one_sits_in_two_circles_of_one_round(case: tuple[list[Candidate], Rules]) -> None:
    people, rules = case
    members = placed(rules.form(people))
    assert len(members) == len(set(members))


@invariant
@given(pools())
def test_the_facilitator_is_a_member_of_the_highest_level(case: tuple[list[Candidate], Rules]) -> None:
    people, rules = case
    for circle in rules.form(people):
        members = by_id(people, circle.member_ids)
        levels = [m.level_rank for m in members if m.level_rank is not None]
        if not levels:
            assert circle.facilitator_id is None
        else:
            top = [m.person_id for m in members if m.level_rank == max(levels)]
            assert circle.facilitator_id == min(top)


@invariant
@given(pools(), st.randoms(use_true_random=False))
def test_the_same_people_in_any_order_give_the_same_circles(
    case: tuple[list[Candidate], Rules], shuffler: Random
) -> None:
    people, rules = case
    shuffled = list(people)
    shuffler.shuffle(shuffled)
    assert rules.form(shuffled) == rules.form(people)


@invariant
@given(pools())
def test_nobody_left_out_could_join_a_circle_with_room(case: tuple[list[Candidate], Rules]) -> None:
    people, rules = case
    circles = rules.form(people)
    left_out = [p for p in people if p.person_id not in placed(circles)]
    for circle in circles:
        members = by_id(people, circle.member_ids)
        if len(members) < rules.max_size:
            assert not [p.person_id for p in left_out if rules.valid(circle.topic, [*members, p])]


@invariant
@given(pools())
def test_the_people_left_out_could_not_form_a_circle_among_themselves(
    case: tuple[list[Candidate], Rules],
) -> None:
    people, rules = case
    placed_ids = set(placed(rules.form(people)))
    left_out = [p for p in people if p.person_id not in placed_ids]
    for topic in TOPICS:
        sharing = [p for p in left_out if topic in p.interests]
        assert not any(rules.valid(topic, group) for group in combinations(sharing, rules.min_size))


@invariant
@given(pools())
def test_everyone_left_out_gets_a_reason_and_nobody_placed_does(case: tuple[list[Candidate], Rules]) -> None:
    people, rules = case
    circles = rules.form(people)
    reasons = explain_left_out(
        people,
        circles,
        min_size=rules.min_size,
        max_size=rules.max_size,
        max_level_spread=rules.max_level_spread,
        default_max_gap_hours=rules.default_max_gap_hours,
        together_before=rules.together_before,
    )
    assert sorted(reasons) == sorted({p.person_id for p in people} - set(placed(circles)))


# Quality against an exact search.


def most_placeable(people: Sequence[Candidate], rules: Rules) -> int:
    """The most people any set of valid circles places: every valid circle is enumerated, then the
    best disjoint choice is searched for exhaustively (small pools only)."""
    circles = {
        frozenset(m.person_id for m in group)
        for topic in TOPICS
        for size in range(rules.min_size, rules.max_size + 1)
        for group in combinations([p for p in people if topic in p.interests], size)
        if rules.valid(topic, group)
    }

    @cache
    def best(free: frozenset[str]) -> int:
        if not free:
            return 0
        first = min(free)
        rest = free - {first}
        options = (len(c) + best(free - c) for c in circles if first in c and c <= free)
        return max([best(rest), *options])

    return best(frozenset(p.person_id for p in people))


def small_pools(seed: int, count: int) -> Iterator[tuple[list[Candidate], Rules]]:
    """Crowded pools of up to 12 people on few topics, where placing everyone is hard."""
    rng = Random(seed)
    for _ in range(count):
        topics = TOPICS[: rng.randint(1, 3)]
        people = [
            person(
                f"p{i:02d}",
                *rng.sample(topics, rng.randint(1, min(2, len(topics)))),
                level=rng.choice([1, 2, 3]),
                offset=rng.choice([0.0, 1.0, 3.0, 7.0]),
                gap=rng.choice([None, None, 2]),
            )
            for i in range(rng.randint(4, 12))
        ]
        ids = [p.person_id for p in people]
        yield (
            people,
            Rules(together_before=frozenset(frozenset(rng.sample(ids, 2)) for _ in range(rng.randint(0, 3)))),
        )


def test_places_nearly_as_many_people_as_an_exact_search_on_crowded_small_pools() -> None:
    # The greedy is not exact (the problem is NP-hard). On these pools it places 99.4% of what the
    # best partition places, and 94.4% without its lookahead: below 98% the heuristic got worse.
    placed_count = exact = 0
    for people, rules in small_pools(seed=1, count=120):
        placed_count += len(placed(rules.form(people)))
        exact += most_placeable(people, rules)
    assert placed_count >= 0.98 * exact
