"""The recognition service assembled: its consumers, its clock and its read API.

- scheduling events: completed sessions (and their corrections), sessions withdrawn after
  completion, office-hours bookings, group sessions and their seats become points;
- matching events: reverse matches, so their sessions count as reverse mentoring;
- profile events: teams and managers, for team leaderboards and digests;
- recognition commands: kudos;
- its own ``points_awarded`` events (keyed by person): the ledger fold, standings and badges;
- on a clock: leaderboards rebuilt, monthly digests per team and programme.
"""

from __future__ import annotations

from datetime import UTC, datetime

from faststream.kafka import KafkaRouter
from pymongo.asynchronous.database import AsyncDatabase

from contracts.catalogue import (
    MATCHING_EVENTS,
    PROFILE_EVENTS,
    RECOGNITION_COMMANDS,
    RECOGNITION_EVENTS,
    SCHEDULING_EVENTS,
)
from contracts.envelope import Envelope
from contracts.matching import MatchConfirmed
from contracts.profile import ProfileCreated, ProfileDeactivated, ProfileUpdated
from contracts.recognition import GiveKudos, PointsAwarded
from contracts.scheduling import (
    GroupSessionAnnounced,
    OfficeHoursBooked,
    OfficeHoursBookingCancelled,
    SeatReserved,
    SessionCancelled,
    SessionCompleted,
)
from services.recognition import store as store_module
from services.recognition.awards import SERVICE, Fold, Kudos, Sources
from services.recognition.boards import emit_digests, refresh_leaderboards
from services.recognition.read_api import build_http
from services.recognition.rules import RecognitionRules, rules_from_json
from services.recognition.settings import RecognitionSettings
from services.recognition.store import OUTBOX_COLLECTIONS, RecognitionStore
from services.runtime.broker import subscribe
from services.runtime.mongo import Document
from services.runtime.periodic import PeriodicTask
from services.runtime.service import Runtime, ServiceDefinition
from services.runtime.settings import settings_as

__all__ = ["RecognitionSettings", "build_router", "definition"]


def load_rules(settings: RecognitionSettings) -> RecognitionRules:
    if settings.rules_file is None:
        return RecognitionRules()
    return rules_from_json(settings.rules_file.read_bytes())


async def ensure_indexes(db: AsyncDatabase[Document]) -> None:
    await store_module.ensure_indexes(db)


def build_router(runtime: Runtime) -> KafkaRouter:
    """Built per process: a FastStream router can belong to one broker only."""
    rules = load_rules(settings_as(runtime.settings, RecognitionSettings))
    store = RecognitionStore(runtime.db)
    sources = Sources(store, runtime.publisher, rules)
    kudos = Kudos(store, runtime.publisher, rules)
    fold = Fold(store, runtime.publisher, rules)
    router = KafkaRouter()

    @subscribe(router, runtime.settings, SCHEDULING_EVENTS)
    async def on_scheduling_event(event: Envelope) -> None:
        match event:
            case SessionCompleted():
                await sources.session_completed(event)
            case SessionCancelled():
                await sources.session_cancelled(event)
            case OfficeHoursBooked():
                await sources.office_hours_booked(event)
            case OfficeHoursBookingCancelled():
                await sources.office_hours_booking_cancelled(event)
            case GroupSessionAnnounced():
                await sources.group_announced(event)
            case SeatReserved():
                await sources.seat_reserved(event)

    @subscribe(router, runtime.settings, MATCHING_EVENTS)
    async def on_matching_event(event: Envelope) -> None:
        if isinstance(event, MatchConfirmed):
            await sources.match_confirmed(event)

    @subscribe(router, runtime.settings, PROFILE_EVENTS)
    async def on_profile_event(event: ProfileCreated | ProfileUpdated | ProfileDeactivated) -> None:
        snapshot = event.payload.snapshot if isinstance(event, ProfileDeactivated) else event.payload
        await sources.remember(snapshot)

    @subscribe(router, runtime.settings, RECOGNITION_COMMANDS)
    async def on_command(command: GiveKudos) -> None:
        await kudos.give(command)

    @subscribe(router, runtime.settings, RECOGNITION_EVENTS)
    async def on_own_event(event: Envelope) -> None:
        # Badges, kudos and digests are this service's own output; only points fold.
        if isinstance(event, PointsAwarded):
            await fold.apply(event)

    return router


async def refresh(runtime: Runtime) -> None:
    await refresh_leaderboards(
        RecognitionStore(runtime.db), settings_as(runtime.settings, RecognitionSettings)
    )


async def digest(runtime: Runtime) -> None:
    today = datetime.now(UTC).date()
    await emit_digests(
        RecognitionStore(runtime.db),
        runtime.publisher,
        settings_as(runtime.settings, RecognitionSettings),
        today,
    )


definition = ServiceDefinition(
    name=SERVICE,
    settings_cls=RecognitionSettings,
    build_router=build_router,
    ensure_indexes=ensure_indexes,
    consumes=(SCHEDULING_EVENTS, MATCHING_EVENTS, PROFILE_EVENTS, RECOGNITION_COMMANDS, RECOGNITION_EVENTS),
    publishes=(RECOGNITION_EVENTS,),
    outbox_collections=OUTBOX_COLLECTIONS,
    build_http=build_http,
    periodic=(
        PeriodicTask(
            name="leaderboards",
            every_seconds=lambda s: settings_as(s, RecognitionSettings).leaderboard_refresh_seconds,
            run=refresh,
        ),
        PeriodicTask(
            name="digests",
            every_seconds=lambda s: settings_as(s, RecognitionSettings).digest_seconds,
            run=digest,
        ),
    ),
    description="Points ledger, badges, kudos, feedback-weighted leaderboards and recognition digests.",
)
