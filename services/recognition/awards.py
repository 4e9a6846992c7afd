"""Points, badges and kudos: from the events of other services to the ledger and back out.

Two steps, each idempotent and crash-safe on its own:

1. **Sources** (sessions, office-hours slots, group sessions, kudos) work out what their
   newest facts deserve (``ledger.plan``) and write their new state together with the
   ``recognition.points_awarded`` events of the difference (grants and compensating
   reversals) in one document write, then publish them (outbox).
2. **The fold**, consuming those events keyed by person, appends each entry to the ledger
   under its deterministic id, adds it to the person's standings once (the entry id is
   recorded in the same write), awards any badge whose criteria are now met through a unique
   (person, badge) key, and marks the entry applied.

Because step 2 runs per person on one partition, a person's totals are only ever changed by
one writer at a time: increments cannot race, even on servers whose updates are not atomic.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from contracts.common import MentorshipKind
from contracts.envelope import Envelope, deterministic_id
from contracts.matching import MatchConfirmed
from contracts.profile import ProfileSnapshot, ProfileStatus
from contracts.recognition import (
    Badge,
    BadgeAwarded,
    BadgeAwardedData,
    GiveKudos,
    KudosGiven,
    KudosGivenData,
    PointsAwarded,
    PointsAwardedData,
    PointsReason,
)
from contracts.scheduling import (
    GroupFormat,
    GroupSessionAnnounced,
    OfficeHoursBooked,
    OfficeHoursBookingCancelled,
    SeatReserved,
    SessionCancelled,
    SessionCompleted,
)
from services.recognition.ledger import (
    KNOWLEDGE_SHARING,
    Entry,
    Grant,
    effect,
    hosting_grants,
    plan,
    session_grants,
)
from services.recognition.rules import RecognitionRules
from services.recognition.standings import (
    ALL_TIME,
    earned_badges,
    increments,
    period_keys,
    totals_from,
)
from services.recognition.store import RecognitionStore, entry_from
from services.runtime import outbox
from services.runtime.errors import UnprocessableMessage
from services.runtime.idempotency import upsert_if_newer
from services.runtime.logging import get_logger
from services.runtime.mongo import Document, aware
from services.runtime.publishing import MessagePublisher

SERVICE = "recognition"
log = get_logger(__name__)


class NotKnownYet(RuntimeError):
    """A message overtook the one it depends on; a retry lets that one arrive."""


def points_awarded(entry: Entry, cause: Envelope) -> PointsAwarded:
    """The event of one ledger entry; its id follows from the entry's, so repeats are recognisable."""
    return PointsAwarded.create(
        PointsAwardedData(
            entry_id=entry.entry_id,
            person_id=entry.person_id,
            points=entry.points,
            reason=entry.reason,
            source_event_id=cause.event_id,
            programme_id=entry.programme_id,
            reverses_entry_id=entry.reverses,
            earned_at=entry.earned_at,
            feedback_ratings=list(entry.ratings),
        ),
        source=SERVICE,
        caused_by=cause,
        event_id=deterministic_id(entry.entry_id, PointsAwarded.message_type()),
    )


class Sources:
    """Sessions, office-hours slots and group sessions as sources of points."""

    def __init__(self, store: RecognitionStore, publisher: MessagePublisher, rules: RecognitionRules) -> None:
        self.store = store
        self.publisher = publisher
        self.rules = rules

    async def _settle(
        self,
        source_id: str,
        current: Document | None,
        deserved: list[Grant],
        revision: int,
        cause: Envelope,
        fields: dict[str, object],
    ) -> None:
        granted = [entry_from(e) for e in (current or {}).get("granted", [])]
        decided = plan(source_id, granted, deserved, revision)
        messages: list[Envelope] = [points_awarded(e, cause) for e in decided.entries]
        entries = await self.store.settle_source(
            source_id, {**fields, "revision": revision}, list(decided.granted), messages
        )
        await outbox.deliver(self.store.sources, source_id, self.publisher, entries or None)
        if decided.entries:
            log.info("points planned", source_id=source_id, entries=len(decided.entries), revision=revision)

    async def _finish_pending(self, source_id: str) -> None:
        """A repeat of news already settled: send whatever a crash may have left unsent."""
        await outbox.deliver(self.store.sources, source_id, self.publisher)

    async def session_completed(self, event: SessionCompleted) -> None:
        """The newest outcome of a session is the truth: grant or reverse to match it."""
        data = event.payload
        current = await self.store.source(data.session_id)
        if current is not None and (current.get("final") or current["revision"] >= data.outcome_revision):
            await self._finish_pending(data.session_id)
            return
        reverse = False
        if data.match_id is not None:
            reverse = await self.store.matches.count_documents({"_id": data.match_id, "reverse": True}) > 0
        rules = self.rules.for_programme(data.programme_id)
        deserved = session_grants(data, rules, reverse=reverse)
        fields: dict[str, object] = {"kind": "session", "final": False}
        await self._settle(data.session_id, current, deserved, data.outcome_revision, event, fields)

    async def session_cancelled(self, event: SessionCancelled) -> None:
        """A completed session withdrawn: everything it granted is reversed, for good."""
        data = event.payload
        if not data.after_completion:
            return
        current = await self.store.source(data.session_id)
        if current is not None and current.get("final"):
            await self._finish_pending(data.session_id)
            return
        revision = (current["revision"] if current else 0) + 1
        fields: dict[str, object] = {"kind": "session", "final": True}
        await self._settle(data.session_id, current, [], revision, event, fields)

    async def office_hours_booked(self, event: OfficeHoursBooked) -> None:
        """A slot with someone booked is office hours held by its host."""
        data = event.payload
        source_id = _slot_id(data.office_hours_id, data.slot_start)
        current = await self.store.source(source_id)
        bookings = list((current or {}).get("bookings", []))
        if data.booking_id in bookings:
            await self._finish_pending(source_id)
            return
        bookings.append(data.booking_id)
        await self._slot(source_id, current, data.host_id, data.slot_start, bookings, event)

    async def office_hours_booking_cancelled(self, event: OfficeHoursBookingCancelled) -> None:
        """The last booking of a slot cancelled: its hosting points are reversed."""
        data = event.payload
        source_id = _slot_id(data.office_hours_id, data.slot_start)
        current = await self.store.source(source_id)
        if current is None or data.booking_id not in current.get("bookings", []):
            await self._finish_pending(source_id)
            return
        bookings = [b for b in current["bookings"] if b != data.booking_id]
        await self._slot(source_id, current, current["host_id"], data.slot_start, bookings, event)

    async def _slot(
        self,
        source_id: str,
        current: Document | None,
        host_id: str,
        slot_start: datetime,
        bookings: list[str],
        event: Envelope,
    ) -> None:
        revision = int((current or {}).get("revision", 0)) + 1
        deserved = hosting_grants(
            host_id, PointsReason.OFFICE_HOURS_HOSTED, bool(bookings), slot_start, self.rules.default
        )
        fields: dict[str, object] = {"kind": "office_hours", "host_id": host_id, "bookings": bookings}
        await self._settle(source_id, current, deserved, revision, event, fields)

    async def group_announced(self, event: GroupSessionAnnounced) -> None:
        data = event.payload
        source_id = _group_id(data.group_session_id)
        fields = {
            "kind": "group",
            "host_id": data.host_id,
            "format": data.format.value,
            "starts_at": data.starts_at,
        }
        await self.store.sources.update_one(
            {"_id": source_id},
            {"$set": fields, "$setOnInsert": {"revision": 0, "seats": [], "granted": []}},
            upsert=True,
        )

    async def seat_reserved(self, event: SeatReserved) -> None:
        """A knowledge-sharing session with an audience is a talk given by its host."""
        data = event.payload
        source_id = _group_id(data.group_session_id)
        current = await self.store.source(source_id)
        if current is None or "host_id" not in current:
            raise NotKnownYet("a seat of a group session not announced yet")
        seats = list(current.get("seats", []))
        if data.person_id in seats:
            await self._finish_pending(source_id)
            return
        seats.append(data.person_id)
        held = GroupFormat(current["format"]) in KNOWLEDGE_SHARING and bool(seats)
        deserved = hosting_grants(
            current["host_id"], PointsReason.TALK_GIVEN, held, aware(current["starts_at"]), self.rules.default
        )
        await self._settle(source_id, current, deserved, current["revision"] + 1, event, {"seats": seats})

    async def match_confirmed(self, event: MatchConfirmed) -> None:
        """Remember reverse matches: their sessions are reverse mentoring."""
        if event.payload.kind is MentorshipKind.REVERSE:
            await self.store.matches.update_one(
                {"_id": event.payload.match_id}, {"$set": {"reverse": True}}, upsert=True
            )

    async def remember(self, snapshot: ProfileSnapshot) -> None:
        """Team and manager, for team leaderboards and their digests (newest snapshot wins)."""
        await upsert_if_newer(
            self.store.people,
            snapshot.person_id,
            snapshot.revision,
            {
                "team": snapshot.team,
                "manager_id": snapshot.manager_id,
                "active": snapshot.status is not ProfileStatus.DEACTIVATED,
            },
        )


def _slot_id(office_hours_id: str, slot_start: datetime) -> str:
    return f"office-hours:{office_hours_id}:{slot_start.astimezone(UTC).isoformat()}"


def _group_id(group_session_id: str) -> str:
    return f"group:{group_session_id}"


class Kudos:
    def __init__(self, store: RecognitionStore, publisher: MessagePublisher, rules: RecognitionRules) -> None:
        self.store = store
        self.publisher = publisher
        self.rules = rules

    async def give(self, command: GiveKudos) -> None:
        """Thanks reach the person thanked (``kudos_given``) and count as points for them."""
        data = command.payload
        if data.from_id == data.to_id:
            raise UnprocessableMessage("nobody can give kudos to themselves")
        given = KudosGiven.create(
            KudosGivenData.model_validate(data.model_dump()),
            source=SERVICE,
            caused_by=command,
            event_id=deterministic_id(data.kudos_id, KudosGiven.message_type()),
        )
        reason = PointsReason.KUDOS_RECEIVED
        grant = Grant(data.to_id, reason, self.rules.default.points(reason), command.occurred_at)
        entry = plan(f"kudos:{data.kudos_id}", [], [grant], 1).entries[0]
        doc = {
            "_id": data.kudos_id,
            "from_id": data.from_id,
            "to_id": data.to_id,
            "message": data.message,
            "session_id": data.session_id,
            "at": command.occurred_at,
        }
        entries = await self.store.insert_once(self.store.kudos, doc, [given, points_awarded(entry, command)])
        await outbox.deliver(self.store.kudos, data.kudos_id, self.publisher, entries or None)


class Fold:
    """Ledger entries into the ledger, into standings, and into badges."""

    def __init__(self, store: RecognitionStore, publisher: MessagePublisher, rules: RecognitionRules) -> None:
        self.store = store
        self.publisher = publisher
        self.rules = rules

    async def apply(self, event: PointsAwarded) -> None:
        data = event.payload
        entry = Entry(
            entry_id=data.entry_id,
            person_id=data.person_id,
            reason=data.reason,
            points=data.points,
            earned_at=data.earned_at or event.occurred_at,
            programme_id=data.programme_id,
            ratings=tuple(data.feedback_ratings),
            reverses=data.reverses_entry_id,
        )
        stored = await self.store.append(entry, data.source_event_id)
        if stored is not None and stored.get("applied"):
            return
        original: Entry | None = None
        if entry.reverses is not None:
            original = await self.store.entry(entry.reverses)
            if original is None:
                raise NotKnownYet("a reversal arrived before the entry it reverses")
        change = effect(entry, original)
        at = original.earned_at if original is not None else entry.earned_at
        programme = original.programme_id if original is not None else entry.programme_id
        inc = increments(change, programme)
        periods = list(period_keys(at))
        # Different documents of one person, each written once: no reason to wait in turn.
        *_, all_time, _ = await asyncio.gather(
            *(self.store.add_to_standings(p, entry.person_id, entry.entry_id, inc) for p in periods),
            self.store.mark_dirty(periods, datetime.now(UTC)),
        )
        if entry.reverses is None:
            # Badges are never taken back, and a reversal cannot earn one.
            if all_time is None:  # added before a crash: read what it holds now
                all_time = await self.store.standings(ALL_TIME).find_one({"_id": entry.person_id})
            await self.award_badges(entry.person_id, all_time, event)
        await self.store.mark_applied(entry.entry_id)

    async def award_badges(self, person_id: str, doc: Document | None, cause: Envelope) -> None:
        """Each badge whose criteria the all-time totals in ``doc`` meet, once per person."""
        if doc is None:
            return
        held = set((doc.get("badges") or {}).keys())
        for badge, criteria in earned_badges(totals_from(doc), self.rules.badges).items():
            if badge.value not in held:
                await self._award(person_id, badge, criteria, cause)

    async def _award(self, person_id: str, badge: Badge, criteria: str, cause: Envelope) -> None:
        award_id = deterministic_id("badge", person_id, badge.value)
        awarded = BadgeAwarded.create(
            BadgeAwardedData(award_id=award_id, person_id=person_id, badge=badge, criteria=criteria),
            source=SERVICE,
            caused_by=cause,
            event_id=deterministic_id(award_id, BadgeAwarded.message_type()),
        )
        now = datetime.now(UTC)
        key = f"{person_id}:{badge.value}"
        doc = {"_id": key, "person_id": person_id, "badge": badge.value, "criteria": criteria, "at": now}
        entries = await self.store.insert_once(self.store.badges, doc, [awarded])
        await outbox.deliver(self.store.badges, key, self.publisher, entries or None)
        held = await self.store.badges.find_one({"_id": key}, {"at": 1})
        at = aware(held["at"]) if held else now
        await self.store.standings(ALL_TIME).update_one(
            {"_id": person_id}, {"$set": {f"badges.{badge.value}": at}}
        )
        if entries:
            log.info("badge awarded", person_id=person_id, badge=badge.value)
