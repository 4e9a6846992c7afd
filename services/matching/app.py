"""The matching service assembled: its consumers, its expiry sweep and its read API.

- profile events keep the candidate pool and drive real-time matching (``reactions``);
- matching commands: requests in every form (``requests``), answers, ends and expiries
  (``answers``), cohort rounds (``rounds``);
- scheduling events: sessions rated a poor fit offer a re-match (``answers``).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from faststream.kafka import KafkaRouter

from contracts.catalogue import MATCHING_COMMANDS, MATCHING_EVENTS, PROFILE_EVENTS, SCHEDULING_EVENTS
from contracts.envelope import Envelope, deterministic_id
from contracts.matching import (
    EndMatch,
    ExpireProposal,
    ExpireProposalData,
    RequestMentorship,
    RespondToProposal,
    RunCohortRound,
)
from contracts.profile import ProfileCreated, ProfileDeactivated, ProfileUpdated
from contracts.programmes import load_programmes
from contracts.scheduling import SessionCompleted
from services.matching import warm_up
from services.matching.answers import Answers
from services.matching.proposals import SERVICE, Matcher
from services.matching.reactions import ProfileReactions
from services.matching.read_api import build_http
from services.matching.requests import Requests
from services.matching.rounds import CohortRounds
from services.matching.settings import MatchingSettings
from services.matching.store import MatchingStore, ensure_indexes
from services.runtime.broker import subscribe
from services.runtime.periodic import PeriodicTask
from services.runtime.service import Runtime, ServiceDefinition
from services.runtime.settings import settings_as

__all__ = ["MatchingSettings", "build_router", "definition"]


def build_router(runtime: Runtime) -> KafkaRouter:
    """Built per process: a FastStream router can belong to one broker only."""
    settings = settings_as(runtime.settings, MatchingSettings)
    # The cohort round's compiled loops are compiled (or loaded from numba's disk cache) in
    # the background while the service starts, so that the first round does not wait for it.
    threading.Thread(target=warm_up.warm, name="warm-pair-loops", daemon=True).start()
    matcher = Matcher(
        MatchingStore(runtime.db),
        runtime.publisher,
        load_programmes(settings.programmes_file),
        pool_max_age_seconds=settings.pool_max_age_seconds,
    )
    reactions = ProfileReactions(matcher)
    requests = Requests(matcher)
    matcher.board_former = requests.form_board
    answers = Answers(matcher, reactions, settings.poor_fit_rating)
    rounds = CohortRounds(matcher)
    router = KafkaRouter()

    @subscribe(router, runtime.settings, PROFILE_EVENTS)
    async def on_profile_event(event: ProfileCreated | ProfileUpdated | ProfileDeactivated) -> None:
        snapshot = event.payload.snapshot if isinstance(event, ProfileDeactivated) else event.payload
        await reactions.on_profile(snapshot, event)

    @subscribe(router, runtime.settings, MATCHING_COMMANDS)
    async def on_matching_command(
        command: RespondToProposal | RequestMentorship | EndMatch | ExpireProposal | RunCohortRound,
    ) -> None:
        if isinstance(command, RespondToProposal):
            await answers.on_response(command)
        elif isinstance(command, RequestMentorship):
            await requests.on_request(command)
        elif isinstance(command, EndMatch):
            await answers.on_end(command)
        elif isinstance(command, ExpireProposal):
            await answers.on_expire(command)
        else:
            await rounds.run(command)

    @subscribe(router, runtime.settings, SCHEDULING_EVENTS)
    async def on_scheduling_event(event: Envelope) -> None:
        if isinstance(event, SessionCompleted):
            await answers.on_session(event)

    return router


async def expire_stale_proposals(runtime: Runtime) -> None:
    """Send an expiry for every proposal unanswered past its time. Every replica sweeps; the
    commands carry deterministic ids and are decided by the match's own consumer."""
    settings = settings_as(runtime.settings, MatchingSettings)
    cutoff = datetime.now(UTC) - timedelta(hours=settings.proposal_ttl_hours)
    stale = await MatchingStore(runtime.db).proposals_before(cutoff)
    commands: list[Envelope] = [
        ExpireProposal.create(
            ExpireProposalData(match_id=doc["_id"], proposed_at=doc["proposed_at"].replace(tzinfo=UTC)),
            source=SERVICE,
            event_id=deterministic_id(doc["_id"], ExpireProposal.message_type()),
        )
        for doc in stale
    ]
    if commands:
        await runtime.publisher.publish_many(commands)


definition = ServiceDefinition(
    name=SERVICE,
    settings_cls=MatchingSettings,
    build_router=build_router,
    ensure_indexes=ensure_indexes,
    consumes=(PROFILE_EVENTS, MATCHING_COMMANDS, SCHEDULING_EVENTS),
    publishes=(MATCHING_EVENTS, MATCHING_COMMANDS),
    outbox_collections=("matches", "requests", "rounds", "circles"),
    build_http=build_http,
    periodic=(
        PeriodicTask(
            name="expire stale proposals",
            every_seconds=lambda s: settings_as(s, MatchingSettings).expiry_sweep_seconds,
            run=expire_stale_proposals,
        ),
    ),
    description="Mentors, reverse mentors, circles and advisory boards, matched explainably within capacity.",
)
