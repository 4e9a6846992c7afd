"""Entrypoints of the matching service.

So far: the candidate pool from profile events, real-time proposals for new hires in the
onboarding programme (the best eligible mentor with a free seat), the waitlist when there
is none, and filling the waitlist when a mentor with capacity appears.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, HTTPException
from faststream.kafka import KafkaRouter
from pydantic import BaseModel

from contracts.catalogue import MATCHING_COMMANDS, MATCHING_EVENTS, PROFILE_EVENTS
from contracts.common import MentorshipKind
from contracts.envelope import Envelope, deterministic_id
from contracts.matching import (
    CohortRoundCompleted,
    CohortRoundCompletedData,
    DeclineReason,
    EndMatch,
    EndReason,
    MatchConfirmed,
    MatchDeclined,
    MatchDeclinedData,
    MatchEnded,
    MatchEndedData,
    MatchParticipants,
    MatchProposed,
    MatchProposedData,
    RequestMentorship,
    RequestWaitlisted,
    RequestWaitlistedData,
    RespondToProposal,
    RunCohortRound,
    ScoreComponent,
)
from contracts.profile import (
    ProfileCreated,
    ProfileDeactivated,
    ProfileSnapshot,
    ProfileStatus,
    ProfileUpdated,
)
from contracts.programmes import Programme, load_programmes
from services.matching import lifecycle
from services.matching.assignment import Edge, assign
from services.matching.candidates import Candidate, candidate_from
from services.matching.lifecycle import Proposal, ProposalState, Refused
from services.matching.scoring import rank_mentors
from services.matching.store import MatchingStore, ensure_indexes
from services.runtime import outbox
from services.runtime.broker import subscribe
from services.runtime.errors import UnprocessableMessage
from services.runtime.http_auth import require_token
from services.runtime.idempotency import PROCESSED_FIELD
from services.runtime.logging import get_logger
from services.runtime.publishing import MessagePublisher
from services.runtime.service import Runtime, ServiceDefinition
from services.runtime.settings import ServiceSettings

SERVICE = "matching"
REALTIME_PROGRAMME = "onboarding"
log = get_logger(__name__)


class MatchingSettings(ServiceSettings):
    service_name: str = SERVICE
    http_port: int = 8102
    programmes_file: Path | None = None


def wants_a_mentor_now(snapshot: ProfileSnapshot) -> bool:
    """New hires in the onboarding programme are matched the moment their profile appears."""
    return (
        snapshot.status is ProfileStatus.ACTIVE
        and snapshot.mentee.opted_in
        and not snapshot.external
        and REALTIME_PROGRAMME in snapshot.programmes
    )


def offers_capacity(snapshot: ProfileSnapshot) -> bool:
    return (
        snapshot.status is ProfileStatus.ACTIVE and snapshot.mentor.opted_in and snapshot.mentor.capacity > 0
    )


@dataclass(frozen=True)
class Pool:
    """Everyone matching knows, read once per message."""

    snapshots: list[ProfileSnapshot]
    people: dict[str, Candidate]
    managers: dict[str, str | None]
    # Seats held per mentor, kept current while one message proposes several matches, so
    # mentors known to be full are not tried seat by seat.
    held: Counter[str]


class Matcher:
    def __init__(
        self, store: MatchingStore, publisher: MessagePublisher, programmes: dict[str, Programme]
    ) -> None:
        self.store = store
        self.publisher = publisher
        self.programmes = programmes

    async def on_profile(self, snapshot: ProfileSnapshot, cause: Envelope) -> None:
        if not await self.store.remember(snapshot):
            return  # older than the snapshot we hold: a newer event already decided
        pending: list[dict[str, Any]] = []
        if snapshot.status is not ProfileStatus.ACTIVE:
            pending.extend(await self._departed(snapshot, cause))
        if wants_a_mentor_now(snapshot):
            request_id = f"{snapshot.person_id}:{REALTIME_PROGRAMME}"
            request = await self.store.open_request(
                request_id, snapshot.person_id, REALTIME_PROGRAMME, cause.correlation_id
            )
            if request["state"] == "open":
                pending.append(request)
        if offers_capacity(snapshot):
            # New capacity: the waitlist, oldest first, gets the first chance at it.
            pending.extend(await self.store.waitlisted())
        if pending:
            pool = await self.pool()
            for request in pending:
                await self.propose(request, pool, cause)

    async def _departed(self, snapshot: ProfileSnapshot, cause: Envelope) -> list[dict[str, Any]]:
        """End the matches of someone who left or went on leave. Returned, to be proposed: the
        requests of mentees who lost their mentor, and the waitlist when a seat came free."""
        person_id = snapshot.person_id
        gone = snapshot.status is ProfileStatus.DEACTIVATED
        reopened: list[dict[str, Any]] = []
        freed_a_seat = False
        for match in await self.store.open_matches_of(person_id):
            as_mentor = match["mentor_id"] == person_id
            if as_mentor:
                reason = EndReason.MENTOR_LEFT if gone else EndReason.MENTOR_ON_LEAVE
            elif gone:
                reason = EndReason.MENTEE_LEFT
            else:
                continue  # a mentee on leave keeps their mentor for when they return
            ended = MatchEnded.create(
                MatchEndedData(
                    match_id=match["_id"],
                    kind=MentorshipKind.ONE_TO_ONE,
                    programme_id=match["programme_id"],
                    mentor_id=match["mentor_id"],
                    mentee_id=match["mentee_id"],
                    reason=reason,
                ),
                source=SERVICE,
                caused_by=cause,
                event_id=deterministic_id(match["_id"], "ended"),
                correlation_id=match.get("correlation_id"),
            )
            entries = await self.store.end_match(match["_id"], match["state"], [ended])
            await outbox.deliver(self.store.matches, match["_id"], self.publisher, entries or None)
            if await self.store.release_seat_of(match["seat_owner"]) is not None:
                freed_a_seat = freed_a_seat or not as_mentor  # a departing mentor takes their seats
            if as_mentor:
                request_id = f"{match['mentee_id']}:{match['programme_id']}"
                request = await self.store.reopen_after_end(request_id, match["_id"])
                if request is not None:
                    reopened.append(request)
        if gone:
            await self.store.close_requests_of(person_id)
        if freed_a_seat:
            reopened.extend(await self.store.waitlisted())
        return reopened

    async def pool(self) -> Pool:
        snapshots = await self.store.pool()
        today = datetime.now(UTC).date()
        return Pool(
            snapshots=snapshots,
            people={s.person_id: candidate_from(s, today) for s in snapshots},
            managers={s.person_id: s.manager_id for s in snapshots},
            held=await self.store.seats_held(),
        )

    async def propose(self, request: dict[str, Any], pool: Pool, cause: Envelope) -> None:
        """Propose the best eligible mentor with a free seat, or put the request on the waitlist."""
        mentee = pool.people.get(request["mentee_id"])
        programme = self.programmes[request["programme_id"]]
        if mentee is None:
            return
        declined = frozenset((mentor_id, mentee.person_id) for mentor_id in request["declined"])
        mentors = [c for c in pool.people.values() if c.mentor]
        owner = f"{request['_id']}#{request['attempt']}"
        ranking = rank_mentors(mentee, mentors, programme, managers=pool.managers, declined=declined)
        mentor_id = await self.store.seat_of(owner)
        if mentor_id is not None:
            # An interrupted attempt already holds a seat: finish that proposal, or give the
            # seat back if that mentor no longer fits.
            again = next((r for r in ranking if r.mentor.person_id == mentor_id), None)
            if again is not None:
                await self.announce_proposal(request, owner, mentor_id, again.score, programme, cause)
                return
            await self.store.release_seat_of(owner)
            pool.held[mentor_id] -= 1
        for ranked in ranking:
            mentor = ranked.mentor
            if pool.held[mentor.person_id] >= mentor.mentor_capacity:
                continue
            if await self.store.take_seat(mentor.person_id, mentor.mentor_capacity, owner):
                pool.held[mentor.person_id] += 1
                await self.announce_proposal(request, owner, mentor.person_id, ranked.score, programme, cause)
                return
            pool.held[mentor.person_id] = mentor.mentor_capacity  # taken meanwhile by another replica
        if request["state"] != "waitlisted":
            await self.announce_waitlisted(request, owner, mentee, mentors, programme, cause)

    async def announce_proposal(
        self,
        request: dict[str, Any],
        owner: str,
        mentor_id: str,
        score: Any,
        programme: Programme,
        cause: Envelope,
        round_id: str | None = None,
    ) -> None:
        match_id = deterministic_id(owner)
        message = MatchProposed.create(
            MatchProposedData(
                match_id=match_id,
                kind=MentorshipKind.ONE_TO_ONE,
                programme_id=programme.programme_id,
                mentor_id=mentor_id,
                mentee_id=request["mentee_id"],
                score=score.total,
                breakdown=list(score.breakdown),
                request_id=request["_id"],
                round_id=round_id,
            ),
            source=SERVICE,
            caused_by=cause,
            event_id=deterministic_id(match_id, MatchProposed.message_type()),
            correlation_id=request.get("correlation_id"),
        )
        match = {
            "_id": match_id,
            "state": "proposed",
            "mentor_id": mentor_id,
            "mentee_id": request["mentee_id"],
            "programme_id": programme.programme_id,
            "seat_owner": owner,
            "score": score.total,
            "breakdown": [component.model_dump(mode="json") for component in score.breakdown],
            "accepted_by": [],
            "correlation_id": request.get("correlation_id"),
        }
        entries = await self.store.record_proposal(match, message)
        await outbox.deliver(self.store.matches, match_id, self.publisher, entries or None)
        await self.store.mark_request(request["_id"], "proposed", [], match_id=match_id)
        # Logged in the request's chain, which is the one the proposal continues.
        log.info(
            "match proposed",
            match_id=match_id,
            score=score.total,
            correlation_id=request.get("correlation_id"),
        )

    async def announce_waitlisted(
        self,
        request: dict[str, Any],
        owner: str,
        mentee: Candidate,
        mentors: list[Candidate],
        programme: Programme,
        cause: Envelope,
    ) -> None:
        covered = {skill for mentor in mentors for skill in mentor.skills}
        unmet = sorted(mentee.goals - covered)
        reason = (
            "No mentor is available yet" if not mentors else "No eligible mentor with a free seat right now"
        )
        message = RequestWaitlisted.create(
            RequestWaitlistedData(
                request_id=request["_id"],
                person_id=mentee.person_id,
                kind=MentorshipKind.ONE_TO_ONE,
                programme_id=programme.programme_id,
                reason=reason,
                unmet_topics=unmet[:20],
            ),
            source=SERVICE,
            caused_by=cause,
            event_id=deterministic_id(owner, RequestWaitlisted.message_type()),
            correlation_id=request.get("correlation_id"),
        )
        entries = await self.store.mark_request(request["_id"], "waitlisted", [message])
        await outbox.deliver(self.store.requests, request["_id"], self.publisher, entries)
        log.info(
            "request waitlisted", request_id=request["_id"], correlation_id=request.get("correlation_id")
        )


class CohortRounds:
    """A round for every waiting mentee of a programme at once, maximising the total score."""

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
        pool = await self.matcher.pool()
        for person in pool.snapshots:
            enrolled = data.programme_id in person.programmes and person.mentee.opted_in
            if enrolled and person.status is ProfileStatus.ACTIVE and not person.external:
                request_id = f"{person.person_id}:{data.programme_id}"
                await self.store.open_request(
                    request_id, person.person_id, data.programme_id, command.correlation_id
                )
        requests = await self.store.waiting_for(data.programme_id)
        mentors = [c for c in pool.people.values() if c.mentor]
        ranked: dict[str, dict[str, Any]] = {}
        edges: list[Edge] = []
        for request in requests:
            mentee = pool.people.get(request["mentee_id"])
            if mentee is None:
                continue
            declined = frozenset((m, mentee.person_id) for m in request["declined"])
            for choice in rank_mentors(
                mentee,
                mentors,
                programme,
                managers=pool.managers,
                declined=declined,
                limit=data.candidates_per_mentee,
            ):
                edges.append(Edge(request["_id"], choice.mentor.person_id, choice.score.total))
                ranked.setdefault(request["_id"], {})[choice.mentor.person_id] = choice.score
        free = {m.person_id: max(0, m.mentor_capacity - pool.held[m.person_id]) for m in mentors}
        result = assign([r["_id"] for r in requests], free, edges)
        by_id = {r["_id"]: r for r in requests}
        proposed = 0
        for pair in result.pairs:
            request = by_id[pair.mentee_id]
            owner = f"{request['_id']}#{request['attempt']}"
            capacity = pool.people[pair.mentor_id].mentor_capacity
            if await self.store.take_seat(pair.mentor_id, capacity, owner):
                score = ranked[request["_id"]][pair.mentor_id]
                await self.matcher.announce_proposal(
                    request, owner, pair.mentor_id, score, programme, command, data.round_id
                )
                proposed += 1
        waiting = len(requests) - proposed
        matched = {pair.mentee_id for pair in result.pairs}
        for request in requests:
            mentee = pool.people.get(request["mentee_id"])
            if request["_id"] not in matched and request["state"] == "open" and mentee is not None:
                owner = f"{request['_id']}#{request['attempt']}"
                await self.matcher.announce_waitlisted(request, owner, mentee, mentors, programme, command)
        summary = CohortRoundCompleted.create(
            CohortRoundCompletedData(
                round_id=data.round_id,
                programme_id=data.programme_id,
                proposed=proposed,
                waitlisted=waiting,
                total_score=round(result.total_score, 6),
                optimal=data.candidates_per_mentee >= len(mentors),
            ),
            source=SERVICE,
            caused_by=command,
            event_id=deterministic_id(data.round_id, CohortRoundCompleted.message_type()),
        )
        entries = await self.store.finish_round(data.round_id, [summary])
        await outbox.deliver(self.store.rounds, data.round_id, self.matcher.publisher, entries)
        log.info("cohort round completed", round_id=data.round_id, proposed=proposed, waiting=waiting)


class Responses:
    """Answers to proposals: the explicit state machine, then its consequences."""

    def __init__(self, matcher: Matcher) -> None:
        self.matcher = matcher
        self.store = matcher.store

    async def on_response(self, command: RespondToProposal) -> None:
        data = command.payload
        doc = await self.store.match(data.match_id)
        if doc is None:
            raise UnprocessableMessage(f"there is no proposal {data.match_id}")
        if command.event_id not in doc.get(PROCESSED_FIELD, []):
            proposal = Proposal(
                match_id=doc["_id"],
                mentor_id=doc["mentor_id"],
                mentee_id=doc["mentee_id"],
                state=ProposalState(doc["state"]),
                accepted_by=frozenset(doc["accepted_by"]),
            )
            try:
                after, transition = lifecycle.respond(proposal, data.responder_id, data.decision)
            except Refused as error:
                raise UnprocessableMessage(str(error)) from error
            messages = self._announcements(doc, after, transition, command)
            entries = await self.store.answer(
                doc["_id"],
                proposal.state.value,
                command.event_id,
                {"state": after.state.value, "accepted_by": sorted(after.accepted_by)},
                messages,
            )
            await outbox.deliver(self.store.matches, doc["_id"], self.matcher.publisher, entries or None)
            doc = {**doc, "state": after.state.value}
        else:
            await outbox.deliver(self.store.matches, doc["_id"], self.matcher.publisher)
        if doc["state"] == ProposalState.DECLINED.value:
            await self._next_mentor(doc, command)

    def _announcements(
        self,
        doc: dict[str, Any],
        after: Proposal,
        transition: lifecycle.Transition,
        command: RespondToProposal,
    ) -> list[Envelope]:
        participants = {
            "match_id": doc["_id"],
            "kind": MentorshipKind.ONE_TO_ONE,
            "programme_id": doc["programme_id"],
            "mentor_id": doc["mentor_id"],
            "mentee_id": doc["mentee_id"],
        }
        event_id = deterministic_id(doc["_id"], str(transition))
        if transition == "confirmed":
            return [
                MatchConfirmed.create(
                    MatchParticipants(**participants),
                    source=SERVICE,
                    caused_by=command,
                    event_id=event_id,
                    correlation_id=doc.get("correlation_id"),
                )
            ]
        if transition == "declined":
            reason = command.payload.reason or DeclineReason.OTHER
            data = MatchDeclinedData(
                **participants, declined_by=command.payload.responder_id, reason=reason, will_rematch=True
            )
            return [
                MatchDeclined.create(
                    data,
                    source=SERVICE,
                    caused_by=command,
                    event_id=event_id,
                    correlation_id=doc.get("correlation_id"),
                )
            ]
        return []

    async def _next_mentor(self, doc: dict[str, Any], cause: Envelope) -> None:
        """Free the declined seat and try the next best mentor (safe to repeat after a crash)."""
        await self.store.release_seat_of(doc["seat_owner"])
        request_id = f"{doc['mentee_id']}:{doc['programme_id']}"
        request = await self.store.reopen_after_decline(request_id, doc["_id"], doc["mentor_id"])
        if request is not None:
            await self.matcher.propose(request, await self.matcher.pool(), cause)


def build_router(runtime: Runtime) -> KafkaRouter:
    """Built per process: a FastStream router can belong to one broker only."""
    settings = runtime.settings
    programmes_file = settings.programmes_file if isinstance(settings, MatchingSettings) else None
    matcher = Matcher(MatchingStore(runtime.db), runtime.publisher, load_programmes(programmes_file))
    router = KafkaRouter()

    responses = Responses(matcher)
    rounds = CohortRounds(matcher)

    @subscribe(router, runtime.settings, PROFILE_EVENTS)
    async def on_profile_event(event: ProfileCreated | ProfileUpdated | ProfileDeactivated) -> None:
        snapshot = event.payload.snapshot if isinstance(event, ProfileDeactivated) else event.payload
        await matcher.on_profile(snapshot, event)

    @subscribe(router, runtime.settings, MATCHING_COMMANDS)
    async def on_matching_command(
        command: RespondToProposal | RequestMentorship | EndMatch | RunCohortRound,
    ) -> None:
        if isinstance(command, RespondToProposal):
            await responses.on_response(command)
        elif isinstance(command, RunCohortRound):
            await rounds.run(command)
        else:
            # Requests for other forms and ended matches arrive with the rest of issue #5; until
            # then they wait in the dead-letter topic, from where they can be replayed.
            raise UnprocessableMessage(f"{command.type} is not handled by this version yet")

    return router


class MatchView(BaseModel):
    match_id: str
    state: str
    programme_id: str
    mentor_id: str
    mentee_id: str
    score: float
    breakdown: list[ScoreComponent]
    accepted_by: list[str]


class MentorLoad(BaseModel):
    mentor_id: str
    capacity: int
    seats_held: int


def build_http(runtime: Runtime) -> APIRouter:
    """Read API: a person's matches with their explanations, the waitlist, a mentor's load."""
    store = MatchingStore(runtime.db)
    api = APIRouter(tags=["matching"], dependencies=[Depends(require_token(runtime.settings))])

    @api.get("/people/{person_id}/matches")
    async def matches_of(person_id: str) -> list[MatchView]:
        return [
            MatchView(
                match_id=doc["_id"],
                state=doc["state"],
                programme_id=doc["programme_id"],
                mentor_id=doc["mentor_id"],
                mentee_id=doc["mentee_id"],
                score=doc["score"],
                breakdown=doc.get("breakdown", []),
                accepted_by=doc["accepted_by"],
            )
            for doc in await store.matches_of(person_id)
        ]

    @api.get("/waitlist")
    async def waitlist() -> dict[str, int]:
        """Waiting requests per programme."""
        return await store.waitlist_sizes()

    @api.get("/mentors/{mentor_id}/load")
    async def load(mentor_id: str) -> MentorLoad:
        snapshot = await store.snapshot_of(mentor_id)
        if snapshot is None:
            raise HTTPException(404, f"{mentor_id} is not known to matching")
        capacity = snapshot.mentor.capacity if snapshot.mentor.opted_in else 0
        return MentorLoad(
            mentor_id=mentor_id, capacity=capacity, seats_held=(await store.seats_held())[mentor_id]
        )

    return api


definition = ServiceDefinition(
    name=SERVICE,
    settings_cls=MatchingSettings,
    build_router=build_router,
    ensure_indexes=ensure_indexes,
    consumes=(PROFILE_EVENTS, MATCHING_COMMANDS),
    publishes=(MATCHING_EVENTS,),
    outbox_collections=("matches", "requests", "rounds"),
    build_http=build_http,
    description="Mentors proposed in real time, explainably, within capacity.",
)
