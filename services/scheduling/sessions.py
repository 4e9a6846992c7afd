"""Sessions of matches, circles and advisory boards: the first one at the earliest slot that
suits everyone, then the programme's cadence at the same local time; rescheduling,
cancelling and recording outcomes, each with an invite calendars recognise as the same event."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from contracts.envelope import Envelope, deterministic_id
from contracts.matching import (
    AdvisoryBoardFormed,
    CircleFormed,
    MatchConfirmed,
    MatchEnded,
    MatchPaused,
    MatchResumed,
)
from contracts.programmes import Programme
from contracts.scheduling import (
    Cadence,
    CalendarInvite,
    CancelSession,
    NoSlotFound,
    NoSlotFoundData,
    Rating,
    RecordSessionOutcome,
    RescheduleSession,
    SessionCancelled,
    SessionCancelledData,
    SessionCompleted,
    SessionCompletedData,
    SessionKind,
    SessionRescheduled,
    SessionRescheduledData,
    SessionScheduled,
    SessionScheduledData,
)
from services.runtime import outbox
from services.runtime.errors import UnprocessableMessage
from services.runtime.logging import get_logger
from services.runtime.mongo import Document, aware
from services.runtime.publishing import MessagePublisher
from services.scheduling.cadence import reminder_times
from services.scheduling.invites import Method, Organiser, Status, invite, stable_uid
from services.scheduling.people import People, Person
from services.scheduling.settings import SchedulingSettings
from services.scheduling.slots import best_group_slot, earliest_common_slot, local_times, recurrence
from services.scheduling.store import SessionStore

SERVICE = "scheduling"
log = get_logger(__name__)
WEEKS_PER_SESSION = {Cadence.WEEKLY: 1.0, Cadence.FORTNIGHTLY: 2.0, Cadence.MONTHLY: 52 / 12}
SUMMARIES = {
    SessionKind.MENTORING: "Mentoring session",
    SessionKind.CIRCLE: "Peer circle",
    SessionKind.ADVISORY_BOARD: "Advisory board",
}


@dataclass(frozen=True)
class Meeting:
    """Who meets regularly, and under which programme."""

    series_id: str
    kind: SessionKind
    programme_id: str
    host_ids: tuple[str, ...]
    participant_ids: tuple[str, ...]
    reverse: bool = False  # a junior mentors a senior (recognition counts it differently)

    @property
    def person_ids(self) -> tuple[str, ...]:
        return self.host_ids + self.participant_ids


def meeting_of(event: MatchConfirmed | CircleFormed | AdvisoryBoardFormed) -> Meeting:
    if isinstance(event, MatchConfirmed):
        data = event.payload
        return Meeting(
            data.match_id, SessionKind.MENTORING, data.programme_id, (data.mentor_id,), (data.mentee_id,)
        )
    if isinstance(event, CircleFormed):
        circle = event.payload
        host = circle.facilitator_id or circle.member_ids[0]
        others = tuple(m for m in circle.member_ids if m != host)
        return Meeting(circle.circle_id, SessionKind.CIRCLE, circle.programme_id, (host,), others)
    board = event.payload
    mentors = tuple(seat.mentor_id for seat in board.seats)
    return Meeting(
        board.board_id, SessionKind.ADVISORY_BOARD, board.programme_id, mentors, (board.mentee_id,)
    )


def occurrences(programme: Programme | None) -> int:
    """How many sessions the programme's duration holds at its cadence (at least one)."""
    if programme is None:
        return 1
    return max(1, int(programme.duration_weeks / WEEKS_PER_SESSION[programme.cadence]))


class Sessions:
    def __init__(
        self,
        store: SessionStore,
        people: People,
        publisher: MessagePublisher,
        settings: SchedulingSettings,
        programmes: dict[str, Programme],
    ) -> None:
        self.store = store
        self.people = people
        self.publisher = publisher
        self.settings = settings
        self.programmes = programmes

    # ------------------------------------------------------------------ matching events

    async def on_matching_event(self, event: Envelope) -> None:
        if isinstance(event, MatchConfirmed | CircleFormed | AdvisoryBoardFormed):
            await self.start(meeting_of(event), event)
        elif isinstance(event, MatchEnded):
            await self.stop(event.payload.match_id, "ended", event)
        elif isinstance(event, MatchPaused):
            await self.stop(event.payload.match_id, "paused", event)
        elif isinstance(event, MatchResumed):
            await self.resume(event.payload.match_id, event)

    async def start(self, meeting: Meeting, cause: Envelope) -> None:
        """Plan the first session; a redelivery finishes what an earlier attempt began."""
        series = await self.store.get_series(meeting.series_id)
        people: dict[str, Person] | None = None
        if series is None:
            created = await self._new_series(meeting, cause)
            if created is None:
                return
            series, people = created
        else:
            await outbox.deliver(self.store.series, meeting.series_id, self.publisher)
        if series["state"] == "active" and series["next_index"] == 1:
            await self._occurrence(series, 0, aware(series["anchor_start"]), cause, people)

    async def _new_series(
        self, meeting: Meeting, cause: Envelope
    ) -> tuple[Document, dict[str, Person]] | None:
        """The series recorded for a new meeting, with the people it was planned for; None when
        no slot was found."""
        people = await self.people.require(meeting.person_ids)
        programme = self.programmes.get(meeting.programme_id)
        after = datetime.now(UTC) + timedelta(hours=self.settings.min_notice_hours)
        start, unavailable = self._first_slot(meeting, people, after)
        series: Document = {
            "_id": meeting.series_id,
            "kind": meeting.kind.value,
            "programme_id": meeting.programme_id,
            "host_ids": list(meeting.host_ids),
            "participant_ids": list(meeting.participant_ids),
            "reverse": meeting.reverse,
            "unavailable_ids": list(unavailable),
            "time_zone": people[meeting.host_ids[0]].time_zone,
            "cadence": (programme.cadence if programme else Cadence.FORTNIGHTLY).value,
            "count": occurrences(programme),
            "confirmed_at": aware(cause.occurred_at),
            "last_completed_at": None,
            "correlation_id": cause.correlation_id,
        }
        if start is None:
            refused = NoSlotFound.create(
                NoSlotFoundData(
                    match_id=meeting.series_id,
                    person_ids=list(meeting.person_ids),
                    horizon_days=self.settings.horizon_days,
                    reason="No shared availability inside everyone's working hours",
                ),
                source=SERVICE,
                caused_by=cause,
                event_id=deterministic_id(meeting.series_id, NoSlotFound.message_type()),
            )
            entries = await self.store.start_series({**series, "state": "no_slot"}, [refused])
            await outbox.deliver(self.store.series, meeting.series_id, self.publisher, entries or None)
            log.info("no slot found", series_id=meeting.series_id, people=len(meeting.person_ids))
            return None
        series.update(state="active", anchor_start=start, anchor_index=0, next_index=1)
        await self.store.start_series(series, [])
        return series, people

    def _first_slot(
        self, meeting: Meeting, people: dict[str, Person], after: datetime
    ) -> tuple[datetime | None, tuple[str, ...]]:
        attendees = [people[p].attendee for p in meeting.person_ids]
        search: dict[str, Any] = {
            "after": after,
            "horizon_days": self.settings.horizon_days,
            "duration_minutes": self.settings.session_minutes,
            "working_hours": self.settings.working_hours,
        }
        if len(attendees) == 2:
            return earliest_common_slot(attendees, **search), ()
        group = best_group_slot(attendees, **search)
        return (None, ()) if group is None else (group.starts_at, group.unavailable_ids)

    async def _occurrence(
        self,
        series: Document,
        index: int,
        starts_at: datetime,
        cause: Envelope | None,
        people: dict[str, Person] | None = None,
    ) -> None:
        """Create occurrence ``index`` once (replicas race harmlessly: one insert wins).

        ``people`` when the caller has just read the series' people: reading them again costs
        two round trips per first session."""
        session_id = deterministic_id(series["_id"], "session", str(index))
        ends_at = starts_at + timedelta(minutes=self.settings.session_minutes)
        if people is None:
            people = await self.people.find(series["host_ids"] + series["participant_ids"])
        kind = SessionKind(series["kind"])
        uid = stable_uid(session_id, self.settings.invite_domain)
        scheduled = SessionScheduled.create(
            SessionScheduledData(
                session_id=session_id,
                kind=kind,
                match_id=series["_id"],
                programme_id=series["programme_id"],
                host_ids=series["host_ids"],
                participant_ids=series["participant_ids"],
                unavailable_ids=series.get("unavailable_ids", []),
                starts_at=starts_at,
                ends_at=ends_at,
                local_times=local_times(starts_at, [p.attendee for p in people.values()]),
                cadence=Cadence(series["cadence"]),
                invite=self._invite(uid, 0, starts_at, ends_at, kind, series, people, Status.CONFIRMED),
            ),
            source=SERVICE,
            caused_by=cause,
            event_id=deterministic_id(session_id, SessionScheduled.message_type()),
            correlation_id=series.get("correlation_id"),
        )
        session = {
            "_id": session_id,
            "series_id": series["_id"],
            "index": index,
            "kind": kind.value,
            "programme_id": series["programme_id"],
            "host_ids": series["host_ids"],
            "participant_ids": series["participant_ids"],
            "person_ids": series["host_ids"] + series["participant_ids"],
            "reverse": series.get("reverse", False),
            "starts_at": starts_at,
            "ends_at": ends_at,
            "uid": uid,
            "sequence": 0,
            "state": "scheduled",
            "outcomes": {},
            "outcome_revision": 0,
            "correlation_id": series.get("correlation_id"),
        }
        entries = await self.store.add_session(session, [scheduled])
        await outbox.deliver(self.store.sessions, session_id, self.publisher, entries or None)
        await self._plan_reminders(session_id, starts_at)
        if series["next_index"] < index + 1:
            await self.store.update_series(series["_id"], {"next_index": index + 1})
        if entries:
            log.info("session scheduled", session_id=session_id, series_id=series["_id"], index=index)

    def _invite(
        self,
        uid: str,
        sequence: int,
        starts_at: datetime,
        ends_at: datetime,
        kind: SessionKind,
        series: Document,
        people: dict[str, Person],
        status: Status,
    ) -> CalendarInvite:
        host = people.get(series["host_ids"][0])
        text = invite(
            uid,
            sequence,
            starts_at,
            ends_at,
            SUMMARIES.get(kind, "Session"),
            organiser=Organiser(email=host.email, name=host.name) if host else None,
            attendees=[
                people[p].email for p in series["host_ids"] + series["participant_ids"] if p in people
            ],
            status=status,
            method=Method.CANCEL if status is Status.CANCELLED else Method.REQUEST,
        )
        return CalendarInvite(uid=uid, sequence=sequence, ics=text)

    async def _plan_reminders(self, session_id: str, starts_at: datetime) -> None:
        planned = reminder_times(
            session_id, starts_at, now=datetime.now(UTC), offsets=self.settings.reminder_leads
        )
        await self.store.plan_reminders(
            [
                {
                    "_id": r.reminder_id,
                    "session_id": session_id,
                    "starts_at": r.starts_at,
                    "due_at": r.due_at,
                    "lead_minutes": r.lead_minutes,
                }
                for r in planned
            ]
        )

    async def stop(self, series_id: str, state: str, cause: Envelope) -> None:
        """The match ended or paused: upcoming sessions are cancelled, with their invites."""
        series = await self.store.get_series(series_id)
        if series is None:
            return
        await self.store.update_series(series_id, {"state": state})
        now = datetime.now(UTC)
        for session in await self.store.sessions_of_series(series_id):
            if session["state"] == "scheduled" and aware(session["starts_at"]) > now:
                await self._cancel(session, None, f"The match was {state}", cause)

    async def resume(self, series_id: str, cause: Envelope) -> None:
        """Back from leave: the next session at the earliest slot from now, then the cadence."""
        series = await self.store.get_series(series_id)
        if series is None or series["state"] != "paused":
            return
        people = await self.people.require(series["host_ids"] + series["participant_ids"])
        meeting = Meeting(
            series_id,
            SessionKind(series["kind"]),
            series["programme_id"],
            tuple(series["host_ids"]),
            tuple(series["participant_ids"]),
        )
        after = datetime.now(UTC) + timedelta(hours=self.settings.min_notice_hours)
        start, _ = self._first_slot(meeting, people, after)
        if start is None:
            return
        index = series["next_index"]
        fields = {"state": "active", "anchor_start": start, "anchor_index": index}
        await self.store.update_series(series_id, fields)
        await self._occurrence({**series, **fields}, index, start, cause)

    async def advance(self, series: Document, now: datetime) -> None:
        """Once the latest session has begun, create the next one at the cadence's local time."""
        index = series["next_index"]
        if series["state"] != "active" or index >= series["count"]:
            return
        latest = await self.store.session(deterministic_id(series["_id"], "session", str(index - 1)))
        if latest is not None and aware(latest["starts_at"]) > now:
            return
        anchor, anchor_index = aware(series["anchor_start"]), series["anchor_index"]
        starts = recurrence(
            anchor, series["time_zone"], Cadence(series["cadence"]), series["count"] - anchor_index
        )
        upcoming = [
            (i + anchor_index, s) for i, s in enumerate(starts) if i + anchor_index >= index and s > now
        ]
        if upcoming:
            await self._occurrence(series, upcoming[0][0], upcoming[0][1], None)
        else:
            await self.store.update_series(series["_id"], {"state": "finished"})

    # ------------------------------------------------------------------ commands

    async def _session_for(self, session_id: str, person_id: str) -> Document:
        session = await self.store.session(session_id)
        if session is None:
            raise UnprocessableMessage(f"there is no session {session_id}")
        if person_id not in session["person_ids"]:
            raise UnprocessableMessage("only the session's participants can change it")
        return session

    async def reschedule(self, command: RescheduleSession) -> None:
        data = command.payload
        session = await self._session_for(data.session_id, data.requested_by)
        if command.event_id in session.get("_processed", []):
            await outbox.deliver(self.store.sessions, session["_id"], self.publisher)
            return
        if session["state"] != "scheduled":
            raise UnprocessableMessage(f"this session is {session['state']}; only a scheduled one can move")
        if data.new_start <= datetime.now(UTC):
            raise UnprocessableMessage("a session can only move to a time in the future")
        previous = aware(session["starts_at"])
        starts_at = data.new_start.astimezone(UTC)
        ends_at = starts_at + (aware(session["ends_at"]) - previous)
        sequence = session["sequence"] + 1
        series = await self.store.get_series(session["series_id"]) or session
        people = await self.people.find(session["person_ids"])
        kind = SessionKind(session["kind"])
        moved = SessionRescheduled.create(
            SessionRescheduledData(
                session_id=session["_id"],
                kind=kind,
                match_id=session["series_id"],
                programme_id=session["programme_id"],
                host_ids=session["host_ids"],
                participant_ids=session["participant_ids"],
                starts_at=starts_at,
                ends_at=ends_at,
                local_times=local_times(starts_at, [p.attendee for p in people.values()]),
                invite=self._invite(
                    session["uid"], sequence, starts_at, ends_at, kind, series, people, Status.CONFIRMED
                ),
                previous_start=previous,
                requested_by=data.requested_by,
            ),
            source=SERVICE,
            caused_by=command,
            event_id=deterministic_id(session["_id"], "rescheduled", str(sequence)),
            correlation_id=session.get("correlation_id"),
        )
        fields = {"starts_at": starts_at, "ends_at": ends_at, "sequence": sequence}
        entries = await self.store.change_session(session["_id"], command.event_id, fields, [moved])
        await outbox.deliver(self.store.sessions, session["_id"], self.publisher, entries or None)
        await self.store.drop_reminders(session["_id"])
        await self._plan_reminders(session["_id"], starts_at)

    async def cancel(self, command: CancelSession) -> None:
        data = command.payload
        session = await self._session_for(data.session_id, data.cancelled_by)
        if command.event_id in session.get("_processed", []) or session["state"] == "cancelled":
            await outbox.deliver(self.store.sessions, session["_id"], self.publisher)
            return
        await self._cancel(session, data.cancelled_by, data.reason, command)

    async def _cancel(self, session: Document, by: str | None, reason: str | None, cause: Envelope) -> None:
        sequence = session["sequence"] + 1
        series = await self.store.get_series(session["series_id"]) or session
        people = await self.people.find(session["person_ids"])
        kind = SessionKind(session["kind"])
        starts_at, ends_at = aware(session["starts_at"]), aware(session["ends_at"])
        cancelled = SessionCancelled.create(
            SessionCancelledData(
                session_id=session["_id"],
                kind=kind,
                match_id=session["series_id"],
                host_ids=session["host_ids"],
                participant_ids=session["participant_ids"],
                starts_at=starts_at,
                cancelled_by=by,
                reason=reason,
                invite=self._invite(
                    session["uid"], sequence, starts_at, ends_at, kind, series, people, Status.CANCELLED
                ),
                after_completion=session["state"] == "completed",
            ),
            source=SERVICE,
            caused_by=cause,
            event_id=deterministic_id(session["_id"], "cancelled"),
            correlation_id=session.get("correlation_id"),
        )
        fields = {"state": "cancelled", "sequence": sequence}
        entries = await self.store.change_session(session["_id"], cause.event_id, fields, [cancelled])
        await outbox.deliver(self.store.sessions, session["_id"], self.publisher, entries or None)
        await self.store.drop_reminders(session["_id"])

    async def record_outcome(self, command: RecordSessionOutcome) -> None:
        data = command.payload
        session = await self._session_for(data.session_id, data.recorded_by)
        if command.event_id in session.get("_processed", []):
            await outbox.deliver(self.store.sessions, session["_id"], self.publisher)
            return
        if session["state"] == "cancelled":
            raise UnprocessableMessage("this session was cancelled; there is no outcome to record")
        if aware(session["starts_at"]) > datetime.now(UTC):
            raise UnprocessableMessage("this session has not started yet")
        outcomes = {
            **session["outcomes"],
            data.recorded_by: {"attended": data.attended, "rating": data.rating, "comment": data.comment},
        }
        revision = session["outcome_revision"] + 1
        completed = SessionCompleted.create(
            SessionCompletedData(
                session_id=session["_id"],
                kind=SessionKind(session["kind"]),
                match_id=session["series_id"],
                programme_id=session["programme_id"],
                host_ids=session["host_ids"],
                participant_ids=session["participant_ids"],
                attended_ids=attended(session, outcomes),
                held_at=aware(session["starts_at"]),
                ratings=[
                    Rating(person_id=p, rating=o["rating"], comment=o["comment"])
                    for p, o in sorted(outcomes.items())
                    if o["rating"] is not None
                ],
                outcome_revision=revision,
                reverse=session.get("reverse", False),
            ),
            source=SERVICE,
            caused_by=command,
            event_id=deterministic_id(session["_id"], "completed", str(revision)),
            correlation_id=session.get("correlation_id"),
        )
        fields = {"state": "completed", "outcomes": outcomes, "outcome_revision": revision}
        entries = await self.store.change_session(session["_id"], command.event_id, fields, [completed])
        await outbox.deliver(self.store.sessions, session["_id"], self.publisher, entries or None)
        if attended(session, outcomes):
            await self.store.update_series(
                session["series_id"], {"last_completed_at": aware(session["starts_at"])}
            )


def attended(session: Document, outcomes: dict[str, Any]) -> list[str]:
    """Participants who were there: each one's own word first, else a host's word for the
    session as a whole."""
    hosts_say = any(outcomes.get(h, {}).get("attended") for h in session["host_ids"])
    return [
        p for p in session["participant_ids"] if (outcomes[p]["attended"] if p in outcomes else hosts_say)
    ]
