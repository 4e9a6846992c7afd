"""Capacity holds when several matching instances share the work: three replicas in one
consumer group, each with its own Kafka and Mongo connections, handle new hires of one
random pool at once, and no mentor is ever proposed more mentees than their capacity."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from contextlib import AsyncExitStack
from typing import Any

import pytest

from contracts.profile import ProfileSnapshot
from services.matching.app import MatchingSettings, definition
from services.runtime.service import running
from tests.support.infrastructure import Infrastructure
from tests.support.matching import Matching, mentor, of_type, snapshot
from tests.support.services import settings_for
from tests.support.waiting import eventually

REPLICAS = 3


def _random_pool(seed: int) -> tuple[list[ProfileSnapshot], list[ProfileSnapshot]]:
    """Mentors with capacities 1 to 3 and more new hires than seats, all mutually eligible."""
    rng = random.Random(seed)
    skills = ["go", "sql", "kafka", "react", "ml"]
    mentors = [
        mentor(
            f"M-{seed}-{n}",
            capacity=rng.randint(1, 3),
            skills=[{"name": s, "level": "expert"} for s in rng.sample(skills, 2)],
        )
        for n in range(rng.randint(4, 7))
    ]
    seats = sum(m.mentor.capacity for m in mentors)
    hires = [
        snapshot(f"H-{seed}-{n}", team="data", goals=rng.sample(skills, 2))
        for n in range(seats + rng.randint(3, 10))
    ]
    return mentors, hires


@pytest.mark.parametrize("seed", [7, 2026])
@pytest.mark.parametrize("mentors_first", [True, False], ids=["mentors-first", "all-at-once"])
async def test_no_mentor_is_proposed_beyond_capacity_by_concurrent_replicas(
    infrastructure: Infrastructure, namespace: str, seed: int, mentors_first: bool
) -> None:
    settings = settings_for(MatchingSettings, infrastructure, namespace)
    matching = Matching(infrastructure, settings)
    mentors, hires = _random_pool(seed)
    async with AsyncExitStack() as replicas:
        for _ in range(REPLICAS):
            await replicas.enter_async_context(running(definition, settings))
        if mentors_first:
            await asyncio.gather(*(matching.profile(m) for m in mentors))
            await eventually(lambda: matching.known(len(mentors)), what="every mentor known")
            await asyncio.gather(*(matching.profile(h) for h in hires))
        else:
            # Hires and mentors race: the waitlist fills from several replicas at once.
            people = hires + mentors
            random.Random(seed).shuffle(people)
            await asyncio.gather(*(matching.profile(p) for p in people))
        seats = sum(m.mentor.capacity for m in mentors)

        def proposals(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
            """Each proposal once: a replica that redoes another's work repeats its event id."""
            unique = {e["event_id"]: e["payload"] for e in of_type(events, "match_proposed")}
            return list(unique.values())

        async def every_seat_proposed() -> bool:
            return len(proposals(await matching.events(0))) >= seats

        await eventually(every_seat_proposed, timeout=60, what="every seat proposed")
        await matching.handled_everything_on("profile.events.v1")
        events = await matching.events(0)

    made = proposals(events)
    load = Counter(p["mentor_id"] for p in made)
    capacity = {m.person_id: m.mentor.capacity for m in mentors}
    assert all(load[m] <= capacity[m] for m in capacity), (load, capacity)
    assert len(made) == seats
    assert len({p["mentee_id"] for p in made}) == len(made)  # nobody proposed twice
