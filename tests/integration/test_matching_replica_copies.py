"""Replicas of matching each keep a copy of everyone, refreshed every few seconds. A replica
whose copy is behind must never undo what a replica with a newer one decided: here two
matchers share one real database and broker, one of them reads its copy before a mentor
volunteers, the other proposes that mentor, and the one that is behind then meets the same
request again (as a waitlist fill read before the proposal would)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from contracts.profile import ProfileCreated, ProfileSnapshot
from contracts.programmes import load_programmes
from services.matching.app import MatchingSettings
from services.matching.proposals import Matcher, match_id_of, seat_owner
from services.matching.reactions import REALTIME_PROGRAMME
from services.matching.store import MatchingStore, ensure_indexes
from services.runtime.broker import create_broker
from services.runtime.mongo import Document, open_client
from services.runtime.publishing import MessagePublisher
from tests.support.infrastructure import Infrastructure
from tests.support.matching import mentor, snapshot
from tests.support.services import settings_for

# Neither copy refreshes itself during a test: what each knows is what the test gave it.
NEVER = 3600.0


@dataclass
class Replicas:
    store: MatchingStore
    behind: Matcher
    ahead: Matcher

    async def hire(self, person: ProfileSnapshot) -> tuple[Document, ProfileCreated]:
        """A new hire remembered in the store, and their onboarding request."""
        await self.store.remember(person)
        request = await self.store.open_request(
            f"{person.person_id}:{REALTIME_PROGRAMME}", person.person_id, REALTIME_PROGRAMME, "corr"
        )
        return request, ProfileCreated.create(person, source="profile")


@pytest.fixture
async def replicas(infrastructure: Infrastructure, namespace: str) -> AsyncIterator[Replicas]:
    settings = settings_for(MatchingSettings, infrastructure, namespace)
    client = open_client(settings)
    broker = create_broker(settings)
    await broker.start()
    try:
        db = client[settings.database_name]
        await ensure_indexes(db)
        store = MatchingStore(db)
        publisher = MessagePublisher(broker, settings)
        programmes = load_programmes(settings.programmes_file)
        yield Replicas(
            store=store,
            behind=Matcher(store, publisher, programmes, pool_max_age_seconds=NEVER),
            ahead=Matcher(store, publisher, programmes, pool_max_age_seconds=NEVER),
        )
    finally:
        await broker.stop()
        await client.close()


async def test_a_replica_that_does_not_know_a_mentor_yet_leaves_the_seat_of_a_proposal_made_with_them(
    replicas: Replicas,
) -> None:
    first, cause = await replicas.hire(snapshot("H1", goals=["go"]))
    second, _ = await replicas.hire(snapshot("H2", goals=["go"]))
    stale = await replicas.behind.pool()  # read before the mentor volunteered
    await replicas.store.remember(mentor("M1", capacity=1, skills=[{"name": "go", "level": "expert"}]))

    await replicas.ahead.propose(first, await replicas.ahead.pool(fresh=True), cause)
    assert await replicas.store.seat_of(seat_owner(first)) == "M1"
    await replicas.behind.propose({**first, "state": "waitlisted"}, stale, cause)
    await replicas.ahead.propose(second, await replicas.ahead.pool(fresh=True), cause)

    assert await replicas.store.seat_of(seat_owner(first)) == "M1"
    assert await replicas.store.seat_of(seat_owner(second)) is None  # M1's one seat is taken
    assert await replicas.store.seats_held() == {"M1": 1}


async def test_a_replica_behind_finishes_an_interrupted_proposal_with_a_mentor_it_did_not_know(
    replicas: Replicas,
) -> None:
    request, cause = await replicas.hire(snapshot("H1", goals=["go"]))
    stale = await replicas.behind.pool()
    await replicas.store.remember(mentor("M1", capacity=1, skills=[{"name": "go", "level": "expert"}]))
    # A replica took the seat and stopped before it recorded the proposal.
    assert await replicas.store.take_seat("M1", 1, seat_owner(request))

    await replicas.behind.propose({**request, "state": "waitlisted"}, stale, cause)

    match = await replicas.store.match(match_id_of(request))
    assert match is not None
    assert match["mentor_id"] == "M1"
    assert await replicas.store.seat_of(seat_owner(request)) == "M1"
