"""What people and time say about a match: answers to proposals (the explicit state machine),
ended matches, proposals nobody answered in time, and sessions rated a poor fit."""

from __future__ import annotations

from contracts.envelope import Envelope, deterministic_id
from contracts.matching import (
    DeclineReason,
    EndMatch,
    EndReason,
    ExpireProposal,
    MatchConfirmed,
    MatchDeclined,
    MatchDeclinedData,
    MatchParticipants,
    ProposalExpired,
    ProposalExpiredData,
    RespondToProposal,
)
from contracts.scheduling import SessionCompleted
from services.matching import lifecycle
from services.matching.lifecycle import Proposal, ProposalState, Refused
from services.matching.proposals import SERVICE, Matcher, participants, request_of
from services.matching.reactions import ProfileReactions
from services.runtime import outbox
from services.runtime.errors import UnprocessableMessage
from services.runtime.idempotency import PROCESSED_FIELD
from services.runtime.logging import get_logger
from services.runtime.mongo import Document

log = get_logger(__name__)

# Ends after which the mentee is found another mentor rather than left without one.
REMATCH_AFTER = frozenset({EndReason.NOT_A_FIT, EndReason.MENTOR_LEFT, EndReason.MENTOR_ON_LEAVE})


class Answers:
    def __init__(self, matcher: Matcher, reactions: ProfileReactions, poor_fit_rating: int) -> None:
        self.matcher = matcher
        self.reactions = reactions
        self.store = matcher.store
        self.poor_fit_rating = poor_fit_rating

    async def _match(self, match_id: str) -> Document:
        doc = await self.store.match(match_id)
        if doc is None:
            raise UnprocessableMessage(f"there is no match {match_id}")
        return doc

    async def on_response(self, command: RespondToProposal) -> None:
        data = command.payload
        doc = await self._match(data.match_id)
        if command.event_id not in doc.get(PROCESSED_FIELD, []):
            if doc["state"] not in {state.value for state in ProposalState}:
                raise UnprocessableMessage(f"this proposal is {doc['state']} and takes no answers")
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
            messages = self._announcements(doc, transition, command)
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
        # The consequences are safe to repeat, so a redelivery after a crash completes them.
        if doc["state"] == ProposalState.DECLINED.value:
            await self._after_decline(doc, data.responder_id, command)
        elif doc["state"] == ProposalState.CONFIRMED.value and doc.get("replaces"):
            await self._replace(doc, command)

    def _announcements(
        self, doc: Document, transition: lifecycle.Transition, command: RespondToProposal
    ) -> list[Envelope]:
        event_id = deterministic_id(doc["_id"], str(transition))
        correlation_id = doc.get("correlation_id")
        if transition == "confirmed":
            confirmed = MatchParticipants(**participants(doc))
            return [
                MatchConfirmed.create(
                    confirmed,
                    source=SERVICE,
                    caused_by=command,
                    event_id=event_id,
                    correlation_id=correlation_id,
                )
            ]
        if transition == "declined":
            data = MatchDeclinedData(
                **participants(doc),
                declined_by=command.payload.responder_id,
                reason=command.payload.reason or DeclineReason.OTHER,
                will_rematch=True,
            )
            return [
                MatchDeclined.create(
                    data, source=SERVICE, caused_by=command, event_id=event_id, correlation_id=correlation_id
                )
            ]
        return []

    async def _after_decline(self, doc: Document, declined_by: str, cause: Envelope) -> None:
        """Free the declined seat and try the next best mentor; a mentee who turns down a
        replacement keeps the mentor they have."""
        await self.store.release_seat_of(doc["seat_owner"])
        replaced = doc.get("replaces")
        if replaced and declined_by == doc["mentee_id"]:
            await self.store.keep_current_match(request_of(doc), replaced)
            return
        await self._next_mentor(doc, cause)

    async def _next_mentor(self, doc: Document, cause: Envelope) -> None:
        request = await self.store.reopen(request_of(doc), doc["_id"], doc["mentor_id"])
        if request is not None:
            await self.matcher.propose(request, await self.matcher.pool(), cause)

    async def _replace(self, doc: Document, cause: Envelope) -> None:
        """The better fit is confirmed: the match it replaces ends, and its seat goes on."""
        old = await self.store.match(doc["replaces"])
        if old is not None and old["state"] in ("confirmed", "paused"):
            await self.reactions.end(old, EndReason.NOT_A_FIT, None, cause)
        if old is not None:
            await self.store.release_seat_of(old["seat_owner"])
        await self.store.replaced(request_of(doc), doc["replaces"])
        await self.matcher.fill_waitlist(cause)

    async def on_end(self, command: EndMatch) -> None:
        data = command.payload
        doc = await self._match(data.match_id)
        if data.ended_by not in (doc["mentor_id"], doc["mentee_id"]):
            raise UnprocessableMessage("only the mentor or the mentee can end this match")
        if doc["state"] in ("proposed", "confirmed", "paused"):
            await self.reactions.end(doc, data.reason, data.ended_by, command)
        elif doc["state"] != "ended":
            raise UnprocessableMessage(f"this match is {doc['state']}; only a live match can end")
        # From here on, safe to repeat: a redelivery finishes what a crash interrupted.
        released = await self.store.release_seat_of(doc["seat_owner"])
        if data.reason in REMATCH_AFTER:
            declined = doc["mentor_id"] if data.reason is EndReason.NOT_A_FIT else None
            request = await self.store.reopen(request_of(doc), doc["_id"], declined)
            if request is not None:
                await self.matcher.propose(request, await self.matcher.pool(), command)
        else:
            await self.store.close_request(request_of(doc), doc["_id"])
        if released is not None:
            await self.matcher.fill_waitlist(command)

    async def on_expire(self, command: ExpireProposal) -> None:
        doc = await self._match(command.payload.match_id)
        if doc["state"] == "proposed":
            waiting_on = sorted({doc["mentor_id"], doc["mentee_id"]} - set(doc["accepted_by"]))
            expired = ProposalExpired.create(
                ProposalExpiredData(**participants(doc), waiting_on=waiting_on, will_rematch=True),
                source=SERVICE,
                caused_by=command,
                event_id=deterministic_id(doc["_id"], "expired"),
                correlation_id=doc.get("correlation_id"),
            )
            entries = await self.store.move_match(doc["_id"], "proposed", "expired", [expired])
            await outbox.deliver(self.store.matches, doc["_id"], self.matcher.publisher, entries or None)
            log.info("proposal expired", match_id=doc["_id"])
        elif doc["state"] != "expired":
            return  # answered in time: the expiry came too late to matter
        await self.store.release_seat_of(doc["seat_owner"])
        # The mentor who let it lapse is not asked again for this mentee.
        await self._next_mentor(doc, command)

    async def on_session(self, event: SessionCompleted) -> None:
        """A participant rated a session of a one-to-one match a poor fit: look for a better
        mentor while the match goes on; it ends only when the mentee confirms the new one."""
        data = event.payload
        if data.match_id is None:
            return
        doc = await self.store.match(data.match_id)
        if doc is None or doc["state"] != "confirmed" or doc.get("board_id"):
            return
        members = {doc["mentor_id"], doc["mentee_id"]}
        if not any(r.person_id in members and r.rating <= self.poor_fit_rating for r in data.ratings):
            return
        request = await self.store.offer_rematch(request_of(doc), doc["_id"], doc["mentor_id"])
        if request is not None:
            log.info("re-match offered after poor feedback", match_id=doc["_id"])
            await self.matcher.propose(request, await self.matcher.pool(), event)
