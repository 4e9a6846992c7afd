"""The scheduling service assembled: its consumers, its sweeps and its read API.

- profile events keep its own view of people's time zones and availability;
- matching events: a confirmed match, a formed circle or board gets its first session and
  cadence; an ended or paused match cancels what is upcoming; a resumed one plans again;
- scheduling commands: rescheduling, cancelling and outcomes of sessions; office hours;
  group sessions;
- on a clock: reminders, the next session of each series, nudges for quiet matches.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Depends
from faststream.kafka import KafkaRouter
from pydantic import BaseModel
from pymongo.asynchronous.database import AsyncDatabase

from contracts.catalogue import MATCHING_EVENTS, PROFILE_EVENTS, SCHEDULING_COMMANDS, SCHEDULING_EVENTS
from contracts.envelope import Envelope
from contracts.profile import ProfileCreated, ProfileDeactivated, ProfileUpdated
from contracts.programmes import load_programmes
from contracts.scheduling import (
    AnnounceGroupSession,
    BookOfficeHours,
    CancelGroupRegistration,
    CancelOfficeHoursBooking,
    CancelSession,
    PublishOfficeHours,
    RecordSessionOutcome,
    RegisterForGroupSession,
    RescheduleSession,
)
from services.runtime.broker import subscribe
from services.runtime.http_auth import require_token
from services.runtime.mongo import Document, aware
from services.runtime.periodic import PeriodicTask
from services.runtime.service import Runtime, ServiceDefinition
from services.runtime.settings import settings_as
from services.scheduling.groups import GroupSessions, ensure_group_indexes, group_routes
from services.scheduling.office_hours import OfficeHours, ensure_office_hours_indexes, office_hours_routes
from services.scheduling.people import People
from services.scheduling.sessions import SERVICE, Sessions
from services.scheduling.settings import SchedulingSettings
from services.scheduling.store import SessionStore, ensure_session_indexes
from services.scheduling.sweeps import Sweeps

__all__ = ["SchedulingSettings", "build_router", "definition"]


def _sessions(runtime: Runtime) -> Sessions:
    settings = settings_as(runtime.settings, SchedulingSettings)
    return Sessions(
        SessionStore(runtime.db),
        People(runtime.db),
        runtime.publisher,
        settings,
        load_programmes(settings.programmes_file),
    )


async def ensure_indexes(db: AsyncDatabase[Document]) -> None:
    await ensure_session_indexes(db)
    await ensure_office_hours_indexes(db)
    await ensure_group_indexes(db)


def build_router(runtime: Runtime) -> KafkaRouter:
    """Built per process: a FastStream router can belong to one broker only."""
    settings = settings_as(runtime.settings, SchedulingSettings)
    people = People(runtime.db)
    sessions = _sessions(runtime)
    office_hours = OfficeHours(runtime.db, runtime.publisher, people, settings)
    groups = GroupSessions(runtime.db, runtime.publisher, people, settings)
    router = KafkaRouter()

    @subscribe(router, runtime.settings, PROFILE_EVENTS)
    async def on_profile_event(event: ProfileCreated | ProfileUpdated | ProfileDeactivated) -> None:
        snapshot = event.payload.snapshot if isinstance(event, ProfileDeactivated) else event.payload
        await people.remember(snapshot)

    @subscribe(router, runtime.settings, MATCHING_EVENTS)
    async def on_matching_event(event: Envelope) -> None:
        await sessions.on_matching_event(event)

    @subscribe(router, runtime.settings, SCHEDULING_COMMANDS)
    async def on_command(command: Envelope) -> None:
        match command:
            case RescheduleSession():
                await sessions.reschedule(command)
            case CancelSession():
                await sessions.cancel(command)
            case RecordSessionOutcome():
                await sessions.record_outcome(command)
            case PublishOfficeHours():
                await office_hours.publish(command)
            case BookOfficeHours():
                await office_hours.book(command)
            case CancelOfficeHoursBooking():
                await office_hours.cancel(command)
            case AnnounceGroupSession():
                await groups.announce(command)
            case RegisterForGroupSession():
                await groups.register(command)
            case CancelGroupRegistration():
                await groups.cancel_registration(command)

    return router


async def sweep(runtime: Runtime) -> None:
    await Sweeps(_sessions(runtime)).run()


class SessionView(BaseModel):
    session_id: str
    kind: str
    match_id: str
    starts_at: datetime
    ends_at: datetime
    local_start: str | None
    host_ids: list[str]
    participant_ids: list[str]


def build_http(runtime: Runtime) -> APIRouter:
    """Read API: a person's upcoming sessions, office hours with free seats, group sessions."""
    store = SessionStore(runtime.db)
    people = People(runtime.db)
    api = APIRouter(tags=["scheduling"], dependencies=[Depends(require_token(runtime.settings))])

    @api.get("/people/{person_id}/sessions")
    async def upcoming(person_id: str) -> list[SessionView]:
        """Scheduled sessions not yet over, soonest first, with the local start for them."""
        person = (await people.find([person_id])).get(person_id)
        views = []
        for doc in await store.upcoming_of(person_id, datetime.now(UTC)):
            starts_at = aware(doc["starts_at"])
            local = starts_at.astimezone(person.attendee_zone).isoformat() if person else None
            views.append(
                SessionView(
                    session_id=doc["_id"],
                    kind=doc["kind"],
                    match_id=doc["series_id"],
                    starts_at=starts_at,
                    ends_at=aware(doc["ends_at"]),
                    local_start=local,
                    host_ids=doc["host_ids"],
                    participant_ids=doc["participant_ids"],
                )
            )
        return views

    api.include_router(office_hours_routes(runtime.db))
    api.include_router(group_routes(runtime.db))
    return api


definition = ServiceDefinition(
    name=SERVICE,
    settings_cls=SchedulingSettings,
    build_router=build_router,
    ensure_indexes=ensure_indexes,
    consumes=(PROFILE_EVENTS, MATCHING_EVENTS, SCHEDULING_COMMANDS),
    publishes=(SCHEDULING_EVENTS,),
    outbox_collections=("series", "sessions", "fired", "nudges", "office_hours", "group_sessions"),
    build_http=build_http,
    periodic=(
        PeriodicTask(
            name="reminders, next sessions and nudges",
            every_seconds=lambda s: settings_as(s, SchedulingSettings).sweep_seconds,
            run=sweep,
        ),
    ),
    description="Sessions across time zones with invites and reminders, office hours and group sessions.",
)
