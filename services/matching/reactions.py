"""What matching does when a person's profile changes: keep its candidate pool, match new
hires in real time, end or pause the matches of people who leave or go on leave (and find
the other side a new mentor), resume them on return, and give new capacity to the waitlist."""

from __future__ import annotations

from contracts.envelope import Envelope, deterministic_id
from contracts.matching import (
    EndReason,
    MatchEnded,
    MatchEndedData,
    MatchParticipants,
    MatchPaused,
    MatchPausedData,
    MatchResumed,
    PauseReason,
)
from contracts.profile import ProfileSnapshot, ProfileStatus
from services.matching.proposals import SERVICE, Matcher, participants, request_of
from services.runtime import outbox
from services.runtime.idempotency import FIRST_REVISION
from services.runtime.logging import get_logger
from services.runtime.mongo import Document

REALTIME_PROGRAMME = "onboarding"
log = get_logger(__name__)


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


class ProfileReactions:
    def __init__(self, matcher: Matcher) -> None:
        self.matcher = matcher
        self.store = matcher.store

    async def on_profile(self, snapshot: ProfileSnapshot, cause: Envelope) -> None:
        if not await self.store.remember(snapshot):
            return  # older than the snapshot we hold: a newer event already decided
        self.matcher.known.note(snapshot)
        pending: list[Document] = []
        freed_a_seat = False
        if snapshot.status is ProfileStatus.ACTIVE:
            if snapshot.revision > FIRST_REVISION:
                # Only a later snapshot can find matches paused: a person's first one is all
                # this store ever held of them (an older one is refused above), so no leave
                # paused anything. Skipping it spares each new hire a search of all matches.
                await self._resume(snapshot.person_id, cause)
        else:
            reopened, freed_a_seat = await self._away(snapshot, cause)
            pending.extend(reopened)
        if wants_a_mentor_now(snapshot):
            request_id = f"{snapshot.person_id}:{REALTIME_PROGRAMME}"
            request = await self.store.open_request(
                request_id, snapshot.person_id, REALTIME_PROGRAMME, cause.correlation_id
            )
            if request["state"] == "open":
                pending.append(request)
        if offers_capacity(snapshot):
            # Counted before the waitlist is read: a request waitlisted elsewhere meanwhile
            # then sees the count move and looks again (``capacity``).
            await self.matcher.offered_capacity()
        if offers_capacity(snapshot) or freed_a_seat:
            # New capacity: the waitlist, oldest first, gets the first chance at it.
            pending.extend(await self.store.waitlisted())
        if pending:
            pool = await self.matcher.pool()
            for request in pending:
                await self.matcher.propose(request, pool, cause)

    async def _away(self, snapshot: ProfileSnapshot, cause: Envelope) -> tuple[list[Document], bool]:
        """Someone left or went on leave. A mentor's matches end and their mentees get a new
        mentor; a mentee who left ends theirs; a mentee on leave pauses theirs. Returns the
        requests to propose again, and whether a seat came free for the waitlist."""
        person_id = snapshot.person_id
        gone = snapshot.status is ProfileStatus.DEACTIVATED
        reopened: list[Document] = []
        freed_a_seat = False
        for match in await self.store.open_matches_of(person_id):
            as_mentor = match["mentor_id"] == person_id
            if not as_mentor and not gone:
                if match["state"] == "confirmed":
                    await self._pause(match, cause)
                continue  # an open proposal waits for their answer, or expires
            if as_mentor:
                reason = EndReason.MENTOR_LEFT if gone else EndReason.MENTOR_ON_LEAVE
            else:
                reason = EndReason.MENTEE_LEFT
            await self.end(match, reason, None, cause)
            released = await self.store.release_seat_of(match["seat_owner"])
            freed_a_seat = freed_a_seat or (released is not None and not as_mentor)
            if as_mentor:
                request = await self.store.reopen(request_of(match), match["_id"])
                if request is not None:
                    reopened.append(request)
        if gone:
            await self.store.close_requests_of(person_id)
        return reopened, freed_a_seat

    async def end(self, match: Document, reason: EndReason, ended_by: str | None, cause: Envelope) -> bool:
        """Announce and record the end of a live match; False when it had ended already."""
        ended = MatchEnded.create(
            MatchEndedData(**participants(match), ended_by=ended_by, reason=reason),
            source=SERVICE,
            caused_by=cause,
            event_id=deterministic_id(match["_id"], "ended"),
            correlation_id=match.get("correlation_id"),
        )
        entries = await self.store.move_match(match["_id"], match["state"], "ended", [ended])
        await outbox.deliver(self.store.matches, match["_id"], self.matcher.publisher, entries or None)
        return bool(entries)

    async def _pause(self, match: Document, cause: Envelope) -> None:
        paused = MatchPaused.create(
            MatchPausedData(**participants(match), reason=PauseReason.MENTEE_ON_LEAVE),
            source=SERVICE,
            caused_by=cause,
            event_id=deterministic_id(match["_id"], "paused", cause.event_id),
            correlation_id=match.get("correlation_id"),
        )
        entries = await self.store.move_match(match["_id"], "confirmed", "paused", [paused])
        await outbox.deliver(self.store.matches, match["_id"], self.matcher.publisher, entries or None)

    async def _resume(self, person_id: str, cause: Envelope) -> None:
        for match in await self.store.open_matches_of(person_id):
            if match["state"] != "paused":
                continue
            resumed = MatchResumed.create(
                MatchParticipants(**participants(match)),
                source=SERVICE,
                caused_by=cause,
                event_id=deterministic_id(match["_id"], "resumed", cause.event_id),
                correlation_id=match.get("correlation_id"),
            )
            entries = await self.store.move_match(match["_id"], "paused", "confirmed", [resumed])
            await outbox.deliver(self.store.matches, match["_id"], self.matcher.publisher, entries or None)
            log.info("match resumed", match_id=match["_id"])
