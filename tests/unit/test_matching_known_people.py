"""The copy of everyone a matching instance keeps between messages: what it notes at once, when
it reads the store again, and that nothing it reads takes a person back to an older profile."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from contracts.profile import ProfileSnapshot
from services.matching.known_people import KnownPeople
from tests.support.matching import mentor, snapshot

TODAY = date(2026, 11, 30)


class Store:
    """A store whose reads are counted (``reads`` of everyone's revisions, and each snapshot
    read in ``snapshots_read``), with a clock that a read moves on by ``load_seconds``."""

    def __init__(self, people: list[ProfileSnapshot], load_seconds: float = 0.0) -> None:
        self.people = {p.person_id: p for p in people}
        self.reads = 0
        self.snapshots_read: list[str] = []
        self.now = 0.0
        self.load_seconds = load_seconds

    def clock(self) -> float:
        return self.now

    async def revisions(self) -> dict[str, int]:
        self.reads += 1
        self.now += self.load_seconds
        return {person_id: p.revision for person_id, p in self.people.items()}

    async def snapshots_of(self, person_ids: Sequence[str]) -> list[ProfileSnapshot]:
        self.snapshots_read.extend(person_ids)
        return [self.people[person_id] for person_id in person_ids if person_id in self.people]


async def test_the_store_is_read_once_while_the_copy_is_young() -> None:
    store = Store([mentor("M1"), snapshot("E1")])
    known = KnownPeople(store, max_age=2.0, clock=store.clock)

    for _ in range(50):
        await known.current()
    store.now += 1.5
    await known.current()

    assert store.reads == 1
    assert set(known.snapshots) == {"M1", "E1"}


async def test_a_copy_older_than_its_age_limit_is_read_again_and_shows_other_replicas_people() -> None:
    store = Store([mentor("M1")])
    known = KnownPeople(store, max_age=2.0, clock=store.clock)
    await known.current()
    store.people["M2"] = mentor("M2")  # remembered by another replica

    store.now += 2.5
    people = await known.current()

    assert store.reads == 2
    assert set(people) == {"M1", "M2"}


async def test_fresh_reads_the_store_whatever_the_age() -> None:
    store = Store([mentor("M1")])
    known = KnownPeople(store, max_age=60.0, clock=store.clock)
    await known.current()
    store.people["M2"] = mentor("M2")

    people = await known.current(fresh=True)

    assert store.reads == 2
    assert "M2" in people


async def test_a_noted_snapshot_is_known_at_once_and_survives_a_read_that_missed_it() -> None:
    store = Store([mentor("M1", capacity=2)])
    known = KnownPeople(store, max_age=2.0, clock=store.clock)
    await known.current()
    known.candidates(TODAY)

    known.note(snapshot("E1"))
    known.note(mentor("M1", capacity=5, revision=2))
    assert known.candidates(TODAY)["M1"].mentor_capacity == 5
    # The store the next read sees was read before those snapshots were written there.
    people = await known.current(fresh=True)

    assert set(people) == {"M1", "E1"}
    assert people["M1"].revision == 2
    assert known.candidates(TODAY)["M1"].mentor_capacity == 5


async def test_an_older_snapshot_never_replaces_a_newer_one() -> None:
    store = Store([])
    known = KnownPeople(store, max_age=2.0, clock=store.clock)
    known.note(mentor("M1", capacity=3, revision=4))

    known.note(mentor("M1", capacity=1, revision=3))

    assert known.snapshots["M1"].revision == 4


async def test_a_slow_read_is_repeated_less_often_than_the_age_limit_asks() -> None:
    store = Store([mentor("M1")], load_seconds=3.0)
    known = KnownPeople(store, max_age=1.0, clock=store.clock)
    await known.current()

    store.now += 10.0
    await known.current()
    # Each read takes 3 s, so the copy is kept for 12 s: at most a quarter of the time reading.
    assert store.reads == 1
    store.now += 3.0
    await known.current()
    assert store.reads == 2
    store.now += 11.0
    await known.current()
    assert store.reads == 2


def test_features_follow_the_date_they_are_asked_for() -> None:
    store = Store([])
    known = KnownPeople(store, max_age=2.0, clock=store.clock)
    known.note(mentor("M1"))

    first = known.candidates(TODAY)["M1"]
    again = known.candidates(TODAY)["M1"]
    next_week = known.candidates(date(2026, 12, 7))["M1"]

    assert first is again
    assert next_week is not first


async def test_a_partial_read_adds_new_volunteers_and_never_takes_anyone_back() -> None:
    store = Store([mentor("M1", capacity=2, revision=3)])
    known = KnownPeople(store, max_age=60.0, clock=store.clock)
    await known.current()
    known.candidates(TODAY)

    known.merge([mentor("M1", capacity=9, revision=2), mentor("M2", capacity=1)])

    assert known.snapshots["M1"].revision == 3
    assert known.candidates(TODAY)["M2"].mentor_capacity == 1
    assert store.reads == 1


async def test_a_copy_knows_every_mentor_as_of_the_offer_count_read_before_it_loaded() -> None:
    store = Store([mentor("M1")])
    offers = [3]

    async def offered() -> int:
        count = offers[0]
        offers[0] += 1  # a mentor volunteers elsewhere while the copy loads: not in this read
        return count

    known = KnownPeople(store, max_age=2.0, clock=store.clock, offered=offered)
    await known.current()

    assert known.mentors_as_of == 3


async def test_an_offer_noted_here_keeps_the_copy_complete_only_when_none_came_in_between() -> None:
    store = Store([])

    async def offered() -> int:
        return 5

    known = KnownPeople(store, max_age=2.0, clock=store.clock, offered=offered)
    await known.current()
    known.offered_here(6)  # the only offer since the load: this instance's own
    assert known.mentors_as_of == 6

    known.offered_here(8)  # offer 7 came through another replica, unseen here
    assert known.mentors_as_of == 6
    known.merge([mentor("M7")], mentors_as_of=8)
    assert known.mentors_as_of == 8


async def test_a_reload_reads_only_the_people_whose_revision_moved() -> None:
    store = Store([mentor("M1"), mentor("M2"), snapshot("E1")])
    known = KnownPeople(store, max_age=2.0, clock=store.clock)
    await known.current()
    unchanged = known.candidates(TODAY)["M1"]
    store.snapshots_read.clear()
    store.people["M2"] = mentor("M2", revision=3, capacity=1)  # changed on another replica
    store.people["E2"] = snapshot("E2")  # new on another replica

    store.now += 2.5
    people = await known.current()

    assert sorted(store.snapshots_read) == ["E2", "M2"]
    assert people["M2"].revision == 3
    assert known.candidates(TODAY)["M2"].mentor_capacity == 1
    assert known.candidates(TODAY)["M1"] is unchanged
