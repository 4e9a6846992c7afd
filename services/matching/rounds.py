"""Cohort rounds: everyone waiting in a programme matched at once.

- one-to-one and reverse programmes: the assignment that maximises the total score within
  every mentor's free capacity (``assignment.assign``);
- circle programmes: peer circles of everyone waiting (``circles.form_circles``);
- advisory-board programmes: a board for each waiting mentee, oldest request first.
"""

from __future__ import annotations

from dataclasses import replace

from contracts.common import MentorshipKind
from contracts.envelope import Envelope, deterministic_id
from contracts.matching import (
    CircleFormed,
    CircleFormedData,
    CohortRoundCompleted,
    CohortRoundCompletedData,
    RunCohortRound,
)
from contracts.profile import ProfileSnapshot, ProfileStatus
from contracts.programmes import Programme
from services.matching.assignment import Edge, EdgeTable, assign
from services.matching.circles import form_circles
from services.matching.forms import as_mentee, mentors_for, request_key
from services.matching.proposals import SERVICE, Matcher, Pool, seat_owner
from services.matching.scoring import Score, rank_mentors, score
from services.matching.shortlist import cohort_edges
from services.runtime import outbox
from services.runtime.errors import UnprocessableMessage
from services.runtime.logging import get_logger
from services.runtime.mongo import Document

log = get_logger(__name__)
MIN_CIRCLE = 4


def enrolled(person: ProfileSnapshot, programme: Programme) -> bool:
    """Who a round of this programme includes without being asked."""
    if person.status is not ProfileStatus.ACTIVE or person.external:
        return False
    if programme.programme_id in person.programmes:
        return programme.kind is not MentorshipKind.ONE_TO_ONE or person.mentee.opted_in
    if programme.kind is MentorshipKind.PEER_CIRCLE:
        return person.preferences.peer_circle
    if programme.kind is MentorshipKind.ADVISORY_BOARD:
        return person.preferences.advisory_board
    return False


class CohortRounds:
    def __init__(self, matcher: Matcher) -> None:
        self.matcher = matcher
        self.store = matcher.store

    async def run(self, command: RunCohortRound) -> None:
        data = command.payload
        programme = self.matcher.programmes.get(data.programme_id)
        if programme is None:
            raise UnprocessableMessage(f"there is no programme {data.programme_id!r}")
        if await self.store.round_done(data.round_id):
            await outbox.deliver(self.store.rounds, data.round_id, self.matcher.publisher)
            return
        # A round is rare and decides for everyone waiting: it reads everyone from the store.
        pool = await self.matcher.pool(fresh=True)
        for person in pool.snapshots.values():
            if enrolled(person, programme):
                await self.store.open_request(
                    request_key(person.person_id, programme.programme_id, programme.kind),
                    person.person_id,
                    programme.programme_id,
                    command.correlation_id,
                    kind=programme.kind.value,
                )
        requests = await self.store.waiting_for(programme.programme_id, programme.kind.value)
        if programme.kind is MentorshipKind.PEER_CIRCLE:
            placed, total, optimal = await self._circles(requests, pool, programme, command), 0.0, False
        elif programme.kind is MentorshipKind.ADVISORY_BOARD:
            placed, total, optimal = await self._boards(requests, pool, programme, command), 0.0, False
        else:
            placed, total, optimal = await self._pairs(requests, pool, programme, command)
        summary = CohortRoundCompleted.create(
            CohortRoundCompletedData(
                round_id=data.round_id,
                programme_id=programme.programme_id,
                proposed=placed,
                waitlisted=len(requests) - placed,
                total_score=round(total, 6),
                optimal=optimal,
            ),
            source=SERVICE,
            caused_by=command,
            event_id=deterministic_id(data.round_id, CohortRoundCompleted.message_type()),
        )
        entries = await self.store.finish_round(data.round_id, [summary])
        await outbox.deliver(self.store.rounds, data.round_id, self.matcher.publisher, entries)
        log.info(
            "cohort round completed", round_id=data.round_id, placed=placed, waiting=len(requests) - placed
        )

    async def _pairs(
        self, requests: list[Document], pool: Pool, programme: Programme, command: RunCohortRound
    ) -> tuple[int, float, bool]:
        """The optimal assignment over each mentee's best candidates, then one proposal each."""
        limit = command.payload.candidates_per_mentee
        by_id = {r["_id"]: r for r in requests if r["mentee_id"] in pool.people}
        edges = self._edges(list(by_id.values()), pool, programme, limit)
        mentors = set(edges.mentor_ids)
        free = {m: max(0, self._capacity(programme, pool, m) - pool.held[m]) for m in sorted(mentors)}
        result = assign(list(by_id), free, edges, fairness=command.payload.fairness)
        proposed, total = 0, 0.0
        for pair in result.pairs:
            request = by_id[pair.mentee_id]
            capacity = self._capacity(programme, pool, pair.mentor_id)
            if await self.store.take_seat(pair.mentor_id, capacity, seat_owner(request)):
                pool.held[pair.mentor_id] += 1
                explained = self._explained(request, pair.mentor_id, pool, programme)
                await self.matcher.announce_proposal(
                    request, pair.mentor_id, explained, programme, command, command.payload.round_id
                )
                proposed, total = proposed + 1, total + pair.score
        matched = {pair.mentee_id for pair in result.pairs}
        for request_id, request in by_id.items():
            if request_id not in matched and request["state"] == "open":
                mentee = pool.people[request["mentee_id"]]
                await self.matcher.announce_waitlisted(request, mentee, [], command)
        everyone = sum(1 for p in pool.people.values() if p.mentor)
        return proposed, total, limit >= everyone

    def _edges(self, requests: list[Document], pool: Pool, programme: Programme, limit: int) -> EdgeTable:
        declined = frozenset((m, r["mentee_id"]) for r in requests for m in r["declined"])
        if programme.kind is MentorshipKind.ONE_TO_ONE:
            ids = {r["mentee_id"]: r["_id"] for r in requests}
            mentors = [p for p in pool.people.values() if p.mentor]
            table = cohort_edges(
                [pool.people[r["mentee_id"]] for r in requests],
                mentors,
                programme,
                managers=pool.managers,
                declined=declined,
                capacities={m.person_id: max(0, m.mentor_capacity - pool.held[m.person_id]) for m in mentors},
                best=limit,
                priced=limit,
            )
            return replace(table, mentee_ids=[ids[m] for m in table.mentee_ids])
        # Reverse mentors differ per mentee (juniors covering that senior's goals): few enough
        # to rank one mentee at a time.
        edges = []
        for request in requests:
            mentee = as_mentee(programme.kind, pool.people[request["mentee_id"]])
            mentors = mentors_for(programme.kind, mentee, pool.people.values())
            for ranked in rank_mentors(
                mentee, mentors, programme, managers=pool.managers, declined=declined, limit=limit
            ):
                edges.append(Edge(request["_id"], ranked.mentor.person_id, ranked.total))
        return EdgeTable.of(edges)

    @staticmethod
    def _capacity(programme: Programme, pool: Pool, mentor_id: str) -> int:
        capacity = pool.people[mentor_id].mentor_capacity
        return max(capacity, 1) if programme.kind is MentorshipKind.REVERSE else capacity

    @staticmethod
    def _explained(request: Document, mentor_id: str, pool: Pool, programme: Programme) -> Score:
        """The breakdown published with a proposal (only chosen pairs are explained in words)."""
        mentee = as_mentee(programme.kind, pool.people[request["mentee_id"]])
        return score(pool.people[mentor_id], mentee, programme)

    async def _circles(
        self, requests: list[Document], pool: Pool, programme: Programme, command: RunCohortRound
    ) -> int:
        by_person = {r["mentee_id"]: r for r in requests if r["mentee_id"] in pool.people}
        circles = form_circles(
            [pool.people[p] for p in sorted(by_person)],
            min_size=min(MIN_CIRCLE, programme.circle_size),
            max_size=programme.circle_size,
            max_level_spread=max(abs(programme.min_seniority_gap), abs(programme.max_seniority_gap)),
            together_before=await self.store.circle_pairs(),
        )
        placed: set[str] = set()
        for circle in circles:
            circle_id = deterministic_id(command.payload.round_id, *circle.member_ids)
            formed = CircleFormed.create(
                CircleFormedData(
                    circle_id=circle_id,
                    programme_id=programme.programme_id,
                    topic=circle.topic,
                    facilitator_id=circle.facilitator_id,
                    member_ids=list(circle.member_ids),
                ),
                source=SERVICE,
                caused_by=command,
                event_id=deterministic_id(circle_id, CircleFormed.message_type()),
            )
            record = {
                "_id": circle_id,
                "programme_id": programme.programme_id,
                "round_id": command.payload.round_id,
                "topic": circle.topic,
                "facilitator_id": circle.facilitator_id,
                "member_ids": list(circle.member_ids),
            }
            entries = await self.store.record_circle(record, [formed])
            await outbox.deliver(self.store.circles, circle_id, self.matcher.publisher, entries or None)
            for member in circle.member_ids:
                await self.store.mark_request(by_person[member]["_id"], "matched", [], match_id=circle_id)
            placed.update(circle.member_ids)
        for person_id, request in by_person.items():
            if person_id not in placed and request["state"] == "open":
                await self.matcher.announce_waitlisted(
                    request,
                    pool.people[person_id],
                    [],
                    command,
                    reason="No circle of peers with shared interests and time zones yet",
                )
        return len(placed)

    async def _boards(
        self, requests: list[Document], pool: Pool, programme: Programme, command: Envelope
    ) -> int:
        former = self.matcher.board_former
        seated = 0
        for request in requests:
            if former is not None and await former(request, pool, programme, command):
                seated += 1
        return seated
