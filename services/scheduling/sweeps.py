"""What scheduling does on a clock, in every replica at once: send due reminders, create the
next session of each series, and nudge matches that went quiet.

Each effect is a unique insert carrying its own outbox (``store.fire_once``, deterministic
session ids, ``store.nudge_once``): of several replicas sweeping together one insert wins and
only its events are sent, and a replica that dies after winning leaves the outbox for the
sweep of abandoned outboxes. Reminders are documents, so they survive restarts.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from contracts.envelope import Envelope, deterministic_id
from contracts.scheduling import MatchInactive, MatchInactiveData, ReminderDue, ReminderDueData, SessionKind
from services.runtime import outbox
from services.runtime.logging import get_logger
from services.runtime.mongo import Document, aware
from services.runtime.outbox import OUTBOX_FIELD
from services.scheduling.cadence import is_inactive
from services.scheduling.sessions import SERVICE, Sessions

ABANDONED_AFTER = timedelta(seconds=60)

log = get_logger(__name__)


class Sweeps:
    def __init__(self, sessions: Sessions) -> None:
        self.sessions = sessions
        self.store = sessions.store

    async def run(self) -> None:
        now = datetime.now(UTC)
        await self.send_due_reminders(now)
        for series in await self.store.active_series():
            await self.sessions.advance(series, now)
            await self.nudge_if_quiet(series, now)
        await self.deliver_abandoned(now)

    async def deliver_abandoned(self, now: datetime) -> None:
        """Send what a replica that stopped between winning an insert and publishing left
        behind. Only entries older than a grace period: younger ones are being sent by their
        writer right now, and sending them here too would only make duplicates."""
        cutoff = now - ABANDONED_AFTER
        for collection in (self.store.fired, self.store.nudges):
            query = {f"{OUTBOX_FIELD}.0": {"$exists": True}, "at": {"$lt": cutoff}}
            async for doc in collection.find(query, {"_id": 1}):
                await outbox.deliver(collection, doc["_id"], self.sessions.publisher)

    async def send_due_reminders(self, now: datetime) -> None:
        for reminder in await self.store.due_reminders(now):
            session = await self.store.session(reminder["session_id"])
            starts_at = aware(reminder["starts_at"])
            still_on = (
                session is not None
                and session["state"] == "scheduled"
                and aware(session["starts_at"]) == starts_at
                and starts_at > now
            )
            if still_on and session is not None:
                messages = await self._reminders_for(session, reminder)
                entries = await self.store.fire_once(reminder["_id"], messages)
                await outbox.deliver(
                    self.store.fired, reminder["_id"], self.sessions.publisher, entries or None
                )
                if entries:
                    log.info(
                        "reminder sent", session_id=session["_id"], lead_minutes=reminder["lead_minutes"]
                    )
            await self.store.forget_reminder(reminder["_id"])

    async def _reminders_for(self, session: Document, reminder: Document) -> list[Envelope]:
        people = await self.sessions.people.find(session["person_ids"])
        starts_at = aware(session["starts_at"])
        return [
            ReminderDue.create(
                ReminderDueData(
                    reminder_id=reminder["_id"],
                    session_id=session["_id"],
                    person_id=person_id,
                    starts_at=starts_at,
                    lead_minutes=reminder["lead_minutes"],
                    local_start=starts_at.astimezone(ZoneInfo(person.time_zone)).isoformat(
                        timespec="seconds"
                    ),
                ),
                source=SERVICE,
                event_id=deterministic_id(reminder["_id"], person_id),
                correlation_id=session.get("correlation_id"),
            )
            for person_id, person in sorted(people.items())
        ]

    async def nudge_if_quiet(self, series: Document, now: datetime) -> None:
        """A one-to-one match without a completed session for the programme's weeks."""
        programme = self.sessions.programmes.get(series["programme_id"])
        if series["kind"] != SessionKind.MENTORING.value or programme is None:
            return
        last = series.get("last_completed_at")
        weeks = is_inactive(
            aware(last) if last else None, aware(series["confirmed_at"]), now, programme.inactive_after_weeks
        )
        if weeks is None:
            return
        nudge = MatchInactive.create(
            MatchInactiveData(
                match_id=series["_id"],
                mentor_id=series["host_ids"][0],
                mentee_id=series["participant_ids"][0],
                weeks_without_session=weeks,
                last_session_at=aware(last) if last else None,
            ),
            source=SERVICE,
            event_id=deterministic_id(series["_id"], "inactive", str(weeks)),
            correlation_id=series.get("correlation_id"),
        )
        nudge_id = f"{series['_id']}:{weeks}"
        entries = await self.store.nudge_once(nudge_id, [nudge])
        await outbox.deliver(self.store.nudges, nudge_id, self.sessions.publisher, entries or None)
