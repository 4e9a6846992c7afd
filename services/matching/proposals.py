"""Proposing mentors one request at a time: the best eligible mentor with a free seat, or
the waitlist when there is none, with the event that says which and why."""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from contracts.common import MentorshipKind
from contracts.envelope import Envelope, deterministic_id
from contracts.matching import (
    MatchProposed,
    MatchProposedData,
    RequestWaitlisted,
    RequestWaitlistedData,
)
from contracts.profile import ProfileSnapshot
from contracts.programmes import Programme
from services.matching.candidates import Candidate
from services.matching.capacity import CapacityEpoch
from services.matching.forms import as_mentee, mentors_for
from services.matching.known_people import KnownPeople
from services.matching.scoring import Score, rank_mentors
from services.matching.store import MatchingStore
from services.runtime import outbox
from services.runtime.logging import get_logger
from services.runtime.mongo import Document
from services.runtime.publishing import MessagePublisher

SERVICE = "matching"
log = get_logger(__name__)


@dataclass(frozen=True)
class Pool:
    """Everyone matching knows, as one message sees them (``known_people`` keeps them between
    messages; the seats are read for each message)."""

    snapshots: Mapping[str, ProfileSnapshot]
    people: dict[str, Candidate]
    managers: dict[str, str | None]
    # Seats held per mentor, kept current while one message proposes several matches, so
    # mentors known to be full are not tried seat by seat.
    held: Counter[str]
    # The capacity counters read when the pool was taken, and how many offers its mentors
    # include (None: unknown): equal, the pool saw every mentor and seat as of ``epoch``.
    epoch: CapacityEpoch
    mentors_as_of: int | None

    def complete_at(self, epoch: CapacityEpoch) -> bool:
        """Whether nothing that could seat a request has changed since this pool's view."""
        return self.epoch == epoch and self.mentors_as_of == epoch.offered


BoardFormer = Callable[[Document, Pool, Programme, Envelope], Awaitable[bool]]


def kind_of(doc: Document) -> MentorshipKind:
    return MentorshipKind(doc.get("kind", MentorshipKind.ONE_TO_ONE.value))


def request_of(match: Document) -> str:
    """The request a match answers (matches from before requests were named carry none)."""
    return str(match.get("request_id") or f"{match['mentee_id']}:{match['programme_id']}")


def participants(match: Document) -> dict[str, Any]:
    """The fields every match event repeats."""
    return {
        "match_id": match["_id"],
        "kind": kind_of(match),
        "programme_id": match["programme_id"],
        "mentor_id": match["mentor_id"],
        "mentee_id": match["mentee_id"],
    }


def seat_owner(request: Document) -> str:
    """Each attempt of a request owns at most one seat (the claims' owner index holds it)."""
    return f"{request['_id']}#{request['attempt']}"


def match_id_of(request: Document) -> str:
    """The match an attempt of a request proposes: one per seat owner, the same on every replica."""
    return deterministic_id(seat_owner(request))


class Matcher:
    def __init__(
        self,
        store: MatchingStore,
        publisher: MessagePublisher,
        programmes: dict[str, Programme],
        pool_max_age_seconds: float = 2.0,
    ) -> None:
        self.store = store
        self.publisher = publisher
        self.programmes = programmes
        self.known = KnownPeople(store, pool_max_age_seconds, offered=self._offered)
        # Boards are seated by the requests module, which builds on this one; it plugs in here
        # so a waitlisted board request is served like any other when capacity frees.
        self.board_former: BoardFormer | None = None

    async def _offered(self) -> int:
        return (await self.store.signals.read()).offered

    async def pool(self, *, fresh: bool = False) -> Pool:
        """Everyone known, and the seats held as this instance knows them; ``fresh`` reads
        everyone and every seat from the store first instead of trusting its copies."""
        held, epoch = await self.store.hints.held(fresh=fresh)
        snapshots = await self.known.current(fresh=fresh)
        return Pool(
            # A copy: the revisions checked before a seat is taken must be those ranked.
            snapshots=dict(snapshots),
            people=dict(self.known.candidates(datetime.now(UTC).date())),
            managers={pid: s.manager_id for pid, s in snapshots.items()},
            held=held,
            epoch=epoch,
            mentors_as_of=self.known.mentors_as_of,
        )

    async def offered_capacity(self) -> None:
        """A mentor this instance noted offers capacity: counted before the waitlist is read."""
        self.known.offered_here(await self.store.capacity_offered())

    async def pool_knowing(self, *person_ids: str) -> Pool:
        """The pool, read afresh when someone it must know is missing from this instance's
        copy (their profile went to another replica since the last reload)."""
        pool = await self.pool()
        if all(pid in pool.people for pid in person_ids):
            return pool
        return await self.pool(fresh=True)

    async def fill_waitlist(self, cause: Envelope, pool: Pool | None = None) -> None:
        """A seat came free or a mentor appeared: the waitlist, oldest first, gets it."""
        waiting = await self.store.waitlisted()
        if waiting:
            pool = pool or await self.pool()
            for request in waiting:
                await self.propose(request, pool, cause)

    async def propose(self, request: Document, pool: Pool, cause: Envelope) -> None:
        """Propose the best eligible mentor with a free seat, or put the request on the waitlist."""
        if request["mentee_id"] not in pool.people:
            pool = await self.pool_knowing(request["mentee_id"])
        person = pool.people.get(request["mentee_id"])
        programme = self.programmes.get(request["programme_id"])
        if person is None or programme is None:
            return
        kind = kind_of(request)
        if kind is MentorshipKind.ADVISORY_BOARD:
            if self.board_former is not None:
                await self.board_former(request, pool, programme, cause)
            return
        if await self._seat_best(request, pool, programme, cause) or request["state"] == "waitlisted":
            return
        mentee = as_mentee(kind, person)
        await self.announce_waitlisted(
            request, mentee, mentors_for(kind, mentee, pool.people.values()), cause
        )
        # A mentor may have appeared, or a seat come free, on another replica after this pool
        # was read but before the request was on the waitlist it fills: look once more, in
        # the store, now that anyone who changes capacity from here on will find it waiting.
        # Whoever changed it counted the change first (``capacity``), so when the counters
        # still match the pool's complete view there is nothing new to look at. Only
        # volunteers can take a one-to-one or external request, so only they are read
        # (reading everyone here made each waitlisted new hire cost O(people)).
        if kind in (MentorshipKind.ONE_TO_ONE, MentorshipKind.EXTERNAL):
            epoch = await self.store.signals.read()
            if pool.complete_at(epoch):
                return
            self.known.merge(await self.store.volunteers(), mentors_as_of=epoch.offered)
            again = await self.pool()
        else:
            again = await self.pool(fresh=True)
        await self._seat_best({**request, "state": "waitlisted"}, again, programme, cause)

    async def _seat_best(
        self, request: Document, pool: Pool, programme: Programme, cause: Envelope, *, checked: bool = False
    ) -> bool:
        """Take a seat with the best eligible mentor who has one and propose them.

        The pool may be a few seconds old: the mentor chosen is compared with the store first,
        and a mentor whose profile changed meanwhile (capacity, status, availability) makes the
        choice start again from everyone as the store has them."""
        kind = kind_of(request)
        mentee = as_mentee(kind, pool.people[request["mentee_id"]])
        mentors = mentors_for(kind, mentee, pool.people.values())
        declined = frozenset((mentor_id, mentee.person_id) for mentor_id in request["declined"])
        owner = seat_owner(request)
        mentor_id = await self.store.seat_of(owner)
        # Mentors this instance knows to be full are not scored: the loop below would skip
        # them anyway, and in a roll-out most mentors fill up. The seat already held is kept.
        mentors = [m for m in mentors if m.person_id == mentor_id or self._room_with(m, pool)]
        ranking = rank_mentors(mentee, mentors, programme, managers=pool.managers, declined=declined)
        if mentor_id is not None:
            # An interrupted attempt already holds a seat: finish that proposal, or give the
            # seat back if that mentor no longer fits.
            again = next((r for r in ranking if r.mentor.person_id == mentor_id), None)
            if again is not None:
                await self.announce_proposal(request, mentor_id, again.score, programme, cause)
                return True
            if await self.store.match(match_id_of(request)) is not None:
                # Proposed already, perhaps by a replica that knew the mentor before this one
                # did. Giving the seat back now would leave that proposal without one and let
                # another mentee take it: the proposal stands, and its own lifecycle answers
                # any later change of the mentor.
                return True
            if not checked:
                # This instance's copy may not know the mentor yet: judge with the store's.
                fresh = await self.pool(fresh=True)
                return await self._seat_best(request, fresh, programme, cause, checked=True)
            await self.store.release_seat_of(owner)
            pool.held[mentor_id] -= 1
        for ranked in ranking:
            mentor = ranked.mentor
            # The instance's own counts include seats its other messages took since this pool
            # was read; a seat given back since then moves the counter the waitlist's second
            # look compares, so skipping a mentor they show full never strands a request.
            if not self._room_with(mentor, pool):
                continue
            if (
                not checked
                and await self.store.revision_of(mentor.person_id)
                != pool.snapshots[mentor.person_id].revision
            ):
                fresh = await self.pool(fresh=True)
                return await self._seat_best(request, fresh, programme, cause, checked=True)
            if await self.store.take_seat(mentor.person_id, mentor.mentor_capacity, owner, trust_counts=True):
                pool.held[mentor.person_id] += 1
                await self.announce_proposal(request, mentor.person_id, ranked.score, programme, cause)
                return True
            pool.held[mentor.person_id] = mentor.mentor_capacity  # taken meanwhile by another replica
        return False

    def _room_with(self, mentor: Candidate, pool: Pool) -> bool:
        """Whether ``mentor`` has a free seat as far as this instance knows."""
        held = max(pool.held[mentor.person_id], self.store.hints.count(mentor.person_id))
        return held < mentor.mentor_capacity

    async def announce_proposal(
        self,
        request: Document,
        mentor_id: str,
        score: Score,
        programme: Programme,
        cause: Envelope,
        round_id: str | None = None,
    ) -> None:
        match_id = match_id_of(request)
        kind = kind_of(request)
        message = MatchProposed.create(
            MatchProposedData(
                match_id=match_id,
                kind=kind,
                programme_id=programme.programme_id,
                mentor_id=mentor_id,
                mentee_id=request["mentee_id"],
                score=score.total,
                breakdown=list(score.breakdown),
                request_id=request["_id"],
                round_id=round_id,
                replaces_match_id=request.get("replaces"),
            ),
            source=SERVICE,
            caused_by=cause,
            event_id=deterministic_id(match_id, MatchProposed.message_type()),
            correlation_id=request.get("correlation_id"),
        )
        match = {
            "_id": match_id,
            "state": "proposed",
            "kind": kind.value,
            "request_id": request["_id"],
            "mentor_id": mentor_id,
            "mentee_id": request["mentee_id"],
            "programme_id": programme.programme_id,
            "seat_owner": seat_owner(request),
            "score": score.total,
            "breakdown": [component.model_dump(mode="json") for component in score.breakdown],
            "accepted_by": [],
            "replaces": request.get("replaces"),
            "proposed_at": datetime.now(UTC),
            "correlation_id": request.get("correlation_id"),
        }
        entries = await self.store.record_proposal(match, message)
        await outbox.deliver(self.store.matches, match_id, self.publisher, entries or None)
        await self.store.mark_request(request["_id"], "proposed", [], match_id=match_id)
        # Logged in the request's chain, which is the one the proposal continues.
        log.info(
            "match proposed",
            match_id=match_id,
            kind=kind.value,
            score=score.total,
            correlation_id=request.get("correlation_id"),
        )

    async def announce_waitlisted(
        self,
        request: Document,
        mentee: Candidate,
        mentors: list[Candidate],
        cause: Envelope,
        reason: str | None = None,
    ) -> None:
        covered = {skill for mentor in mentors for skill in mentor.skills}
        unmet = sorted(mentee.goals - covered)
        if reason is None:
            reason = (
                "No mentor is available yet"
                if not mentors
                else "No eligible mentor with a free seat right now"
            )
        message = RequestWaitlisted.create(
            RequestWaitlistedData(
                request_id=request["_id"],
                person_id=mentee.person_id,
                kind=kind_of(request),
                programme_id=request["programme_id"],
                reason=reason,
                unmet_topics=unmet[:20],
            ),
            source=SERVICE,
            caused_by=cause,
            event_id=deterministic_id(seat_owner(request), RequestWaitlisted.message_type()),
            correlation_id=request.get("correlation_id"),
        )
        entries = await self.store.mark_request(request["_id"], "waitlisted", [message])
        await outbox.deliver(self.store.requests, request["_id"], self.publisher, entries)
        log.info(
            "request waitlisted", request_id=request["_id"], correlation_id=request.get("correlation_id")
        )
