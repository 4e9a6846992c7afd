"""Replicas of matching keep seat counts and mentors in memory between messages, and learn of
capacity that grew elsewhere through two counters in the store. The races they must catch
are run here step by step: two replicas, each with its own store object (so its own seat
counts), on the real database and broker. In each, the other replica grows capacity and
reads the waitlist just before the request is put on it, so only the request's second look
can still seat it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from pymongo import AsyncMongoClient, monitoring

from contracts.profile import ProfileCreated, ProfileSnapshot
from contracts.programmes import load_programmes
from services.matching.app import MatchingSettings
from services.matching.proposals import Matcher, seat_owner
from services.matching.reactions import REALTIME_PROGRAMME
from services.matching.store import MatchingStore, ensure_indexes
from services.runtime.broker import create_broker
from services.runtime.mongo import Document, open_client
from services.runtime.publishing import MessagePublisher
from tests.support.infrastructure import Infrastructure
from tests.support.matching import mentor, snapshot
from tests.support.services import settings_for

# Neither replica reloads everyone by itself during a test.
NEVER = 3600.0
GO_EXPERT = [{"name": "go", "level": "expert"}]


class Reads(monitoring.CommandListener):
    """The collections a replica reads, in order."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name in ("find", "aggregate", "count"):
            self.seen.append(str(event.command[event.command_name]))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@dataclass
class Replica:
    store: MatchingStore
    matcher: Matcher

    async def hire(self, person: ProfileSnapshot) -> tuple[Document, ProfileCreated]:
        """A new hire remembered in the store, and their onboarding request."""
        await self.store.remember(person)
        self.matcher.known.note(person)
        request = await self.store.open_request(
            f"{person.person_id}:{REALTIME_PROGRAMME}", person.person_id, REALTIME_PROGRAMME, "corr"
        )
        return request, ProfileCreated.create(person, source="profile")

    async def volunteer(self, person: ProfileSnapshot) -> list[Document]:
        """A mentor's profile handled here, up to the waitlist it reads."""
        await self.store.remember(person)
        self.matcher.known.note(person)
        await self.matcher.offered_capacity()
        return await self.store.waitlisted()


@dataclass
class Replicas:
    here: Replica
    there: Replica
    reads_here: Reads


@pytest.fixture
async def replicas(infrastructure: Infrastructure, namespace: str) -> AsyncIterator[Replicas]:
    settings = settings_for(MatchingSettings, infrastructure, namespace)
    reads = Reads()
    client = open_client(settings)
    watched: AsyncMongoClient[Document] = AsyncMongoClient(
        settings.mongo.url.get_secret_value(),
        tz_aware=True,
        event_listeners=[reads],
        **settings.mongo.client_options(),  # type: ignore[arg-type]
    )
    broker = create_broker(settings)
    await broker.start()
    try:
        await ensure_indexes(client[settings.database_name])
        publisher = MessagePublisher(broker, settings)
        programmes = load_programmes(settings.programmes_file)

        def replica(store: MatchingStore) -> Replica:
            return Replica(store, Matcher(store, publisher, programmes, pool_max_age_seconds=NEVER))

        yield Replicas(
            here=replica(MatchingStore(watched[settings.database_name])),
            there=replica(MatchingStore(client[settings.database_name])),
            reads_here=reads,
        )
    finally:
        await broker.stop()
        await client.close()
        await watched.close()


async def test_a_mentor_who_volunteers_on_another_replica_reaches_a_request_waitlisted_meanwhile(
    replicas: Replicas,
) -> None:
    request, cause = await replicas.here.hire(snapshot("H1", goals=["go"]))
    pool = await replicas.here.matcher.pool()  # no mentor yet

    assert await replicas.there.volunteer(mentor("M1", capacity=1, skills=GO_EXPERT)) == []
    await replicas.here.matcher.propose(request, pool, cause)

    assert await replicas.here.store.seat_of(seat_owner(request)) == "M1"


async def test_a_seat_given_back_on_another_replica_reaches_a_request_waitlisted_meanwhile(
    replicas: Replicas,
) -> None:
    await replicas.there.volunteer(mentor("M1", capacity=1, skills=GO_EXPERT))
    first, cause = await replicas.there.hire(snapshot("H1", goals=["go"]))
    await replicas.there.matcher.propose(first, await replicas.there.matcher.pool(), cause)
    second, _ = await replicas.here.hire(snapshot("H2", goals=["go"]))
    pool = await replicas.here.matcher.pool(fresh=True)  # counts M1's one seat as taken
    assert pool.held["M1"] == 1

    assert await replicas.there.store.release_seat_of(seat_owner(first)) == "M1"
    assert await replicas.there.store.waitlisted() == []
    await replicas.here.matcher.propose(second, pool, cause)

    assert await replicas.here.store.seat_of(seat_owner(second)) == "M1"


async def test_a_request_waitlisted_when_nothing_changed_anywhere_reads_no_mentors_or_seats_again(
    replicas: Replicas,
) -> None:
    await replicas.here.volunteer(mentor("M1", capacity=1, skills=GO_EXPERT))
    first, cause = await replicas.here.hire(snapshot("H1", goals=["go"]))
    await replicas.here.matcher.propose(first, await replicas.here.matcher.pool(fresh=True), cause)
    second, _ = await replicas.here.hire(snapshot("H2", goals=["go"]))

    replicas.reads_here.seen.clear()
    await replicas.here.matcher.propose(second, await replicas.here.matcher.pool(), cause)

    waiting = await replicas.here.store.waitlisted()
    assert [doc["_id"] for doc in waiting] == [second["_id"]]
    assert await replicas.here.store.seats_held() == {"M1": 1}
    # Only the waitlist itself, the counters and the seat by owner were read: no scan of the
    # people or the seats, which a new hire used to cost.
    before_checks = replicas.reads_here.seen[:-2]
    assert "candidates" not in before_checks
    assert before_checks.count("seats") <= 1
