"""Requests for mentorship in every form: one-to-one, external and reverse mentors are
proposed at once; a personal advisory board is formed at once; a peer circle waits for the
next circles round, which groups everyone waiting together."""

from __future__ import annotations

from contracts.common import MentorshipKind
from contracts.envelope import Envelope, deterministic_id
from contracts.matching import AdvisoryBoardFormed, AdvisoryBoardFormedData, BoardSeat, RequestMentorship
from contracts.programmes import Programme
from services.matching.boards import BoardSeatChoice, choose_board
from services.matching.forms import PAIRED_FORMS, UnknownProgramme, programme_for, request_key
from services.matching.proposals import SERVICE, Matcher, Pool, seat_owner
from services.matching.scoring import rank_mentors
from services.runtime import outbox
from services.runtime.errors import UnprocessableMessage
from services.runtime.logging import get_logger
from services.runtime.mongo import Document

log = get_logger(__name__)
MIN_BOARD_SEATS = 2  # a board of one is a one-to-one match, which has its own request


class PersonNotKnownYet(RuntimeError):
    """The request overtook the person's profile event; retrying lets the profile arrive."""


class Requests:
    def __init__(self, matcher: Matcher) -> None:
        self.matcher = matcher
        self.store = matcher.store

    async def on_request(self, command: RequestMentorship) -> None:
        data = command.payload
        try:
            programme = programme_for(data.kind, data.programme_id, self.matcher.programmes)
        except UnknownProgramme as error:
            raise UnprocessableMessage(str(error)) from error
        pool = await self.matcher.pool_knowing(data.requester_id)
        person = pool.people.get(data.requester_id)
        if person is None:
            raise PersonNotKnownYet("matching has no profile of the requester yet")
        if not person.active:
            raise UnprocessableMessage("only active people can ask for mentorship")
        request = await self.store.open_request(
            request_key(data.requester_id, programme.programme_id, data.kind),
            data.requester_id,
            programme.programme_id,
            command.correlation_id,
            kind=data.kind.value,
            reopen_closed=True,
        )
        if data.kind in PAIRED_FORMS:
            if request["state"] == "open":
                await self.matcher.propose(request, pool, command)
        elif data.kind is MentorshipKind.ADVISORY_BOARD:
            if request["state"] in ("open", "waitlisted"):
                await self.form_board(request, pool, programme, command)
            else:
                await outbox.deliver(
                    self.store.matches, str(request.get("first_seat")), self.matcher.publisher
                )
        elif request["state"] == "open":
            await self.matcher.announce_waitlisted(
                request, person, [], command, reason="Waiting for the next circles round"
            )

    async def form_board(self, request: Document, pool: Pool, programme: Programme, cause: Envelope) -> bool:
        """Seat the board that covers the most of the mentee's goals; False when fewer than two
        mentors could be seated (the request is waitlisted then)."""
        mentee = pool.people.get(request["mentee_id"])
        if mentee is None:
            return False
        owner = seat_owner(request)
        # Seats of an attempt that crashed before recording its board go back first, so the
        # choice is made afresh on what is free now.
        for mentor_id in await self.store.release_seats_owned_under(f"{owner}/"):
            pool.held[mentor_id] -= 1
        mentors = [c for c in pool.people.values() if c.mentor]
        declined = frozenset((m, mentee.person_id) for m in request["declined"])
        ranked = rank_mentors(mentee, mentors, programme, managers=pool.managers, declined=declined)
        choices = choose_board(
            mentee,
            ranked,
            seats=programme.board_seats,
            has_room=lambda m: pool.held[m] < pool.people[m].mentor_capacity,
        )
        seated: list[BoardSeatChoice] = []
        for choice in choices:
            mentor = choice.mentor
            if await self.store.take_seat(
                mentor.person_id, mentor.mentor_capacity, f"{owner}/{mentor.person_id}"
            ):
                pool.held[mentor.person_id] += 1
                seated.append(choice)
        if len(seated) < MIN_BOARD_SEATS:
            for choice in seated:
                await self.store.release_seat_of(f"{owner}/{choice.mentor.person_id}")
                pool.held[choice.mentor.person_id] -= 1
            if request["state"] != "waitlisted":
                await self.matcher.announce_waitlisted(
                    request,
                    mentee,
                    mentors,
                    cause,
                    reason="Not enough mentors with room cover different goals",
                )
            return False
        await self._record_board(request, owner, seated, programme, cause)
        return True

    async def _record_board(
        self,
        request: Document,
        owner: str,
        seated: list[BoardSeatChoice],
        programme: Programme,
        cause: Envelope,
    ) -> None:
        board_id = deterministic_id(owner, "board")
        formed = AdvisoryBoardFormed.create(
            AdvisoryBoardFormedData(
                board_id=board_id,
                mentee_id=request["mentee_id"],
                programme_id=programme.programme_id,
                seats=[
                    BoardSeat(mentor_id=c.mentor.person_id, strength=c.strength, score=c.score.total)
                    for c in seated
                ],
            ),
            source=SERVICE,
            caused_by=cause,
            event_id=deterministic_id(board_id, AdvisoryBoardFormed.message_type()),
            correlation_id=request.get("correlation_id"),
        )
        seats = [
            {
                "_id": deterministic_id(board_id, choice.mentor.person_id),
                "state": "confirmed",
                "kind": MentorshipKind.ADVISORY_BOARD.value,
                "board_id": board_id,
                "strength": choice.strength,
                "request_id": request["_id"],
                "mentor_id": choice.mentor.person_id,
                "mentee_id": request["mentee_id"],
                "programme_id": programme.programme_id,
                "seat_owner": f"{owner}/{choice.mentor.person_id}",
                "score": choice.score.total,
                "breakdown": [component.model_dump(mode="json") for component in choice.score.breakdown],
                "accepted_by": [],
                "correlation_id": request.get("correlation_id"),
            }
            for choice in seated
        ]
        entries = await self.store.record_board(seats, [formed])
        await outbox.deliver(self.store.matches, seats[0]["_id"], self.matcher.publisher, entries or None)
        await self.store.mark_request(
            request["_id"], "matched", [], match_id=board_id, first_seat=seats[0]["_id"]
        )
        log.info("advisory board formed", board_id=board_id, seats=len(seated))
