"""Entrypoints of the profile service: Kafka handlers and the HTTP read API.

Each handler translates a message into a domain call, persists the result with its outgoing
event in one write, then publishes. Domain refusals and duplicate work emails become
``UnprocessableMessage``: the message goes to the dead-letter topic with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from faststream.kafka import KafkaRouter
from pydantic import BaseModel

from contracts.catalogue import HR_EMPLOYEES, PROFILE_COMMANDS, PROFILE_EVENTS
from contracts.envelope import Envelope
from contracts.inbound import HrEmployeeEvent
from contracts.profile import ProfileSnapshot, ProfileStatus, RegisterExternalMentor, UpdateProfile
from services.profile import domain
from services.profile.store import EmailTaken, ProfileStore, ensure_indexes
from services.runtime import outbox
from services.runtime.broker import subscribe
from services.runtime.errors import UnprocessableMessage
from services.runtime.http_auth import require_token
from services.runtime.logging import get_logger
from services.runtime.mongo import Document
from services.runtime.publishing import MessagePublisher
from services.runtime.service import Runtime, ServiceDefinition
from services.runtime.settings import ServiceSettings

log = get_logger(__name__)


class ProfileSettings(ServiceSettings):
    service_name: str = domain.SERVICE
    http_port: int = 8101


class ProfileIntake:
    """Applies one message to one person's record, exactly once."""

    def __init__(self, store: ProfileStore, publisher: MessagePublisher) -> None:
        self.store = store
        self.publisher = publisher

    async def apply(
        self,
        person_id: str,
        cause: Envelope,
        decide: Callable[[domain.PersonRecord], domain.Decision],
    ) -> None:
        loaded = await self.store.load(person_id)
        if cause.event_id in loaded.processed:
            # A redelivery: send whatever a crash may have left in the outbox.
            await outbox.deliver(self.store.profiles, person_id, self.publisher)
            return
        try:
            decision = decide(loaded.record)
        except domain.Rejected as error:
            raise UnprocessableMessage(str(error)) from error
        if decision.record != loaded.record:
            entries = await self._persist(loaded.record, loaded.version, decision, cause.event_id)
            await outbox.deliver(self.store.profiles, person_id, self.publisher, entries)

    async def _persist(
        self, before: domain.PersonRecord, version: int | None, decision: domain.Decision, cause_id: str
    ) -> list[Document]:
        person_id = before.person_id
        email_before, email_after = _live_email(before.snapshot), _live_email(decision.record.snapshot)
        if email_after and email_after != email_before:
            try:
                await self.store.claim_email(email_after, person_id)
            except EmailTaken as error:
                raise UnprocessableMessage(
                    "the work email already belongs to another active person; not merged"
                ) from error
        published = [decision.published] if decision.published else []
        entries = await self.store.save(decision.record, version, cause_id, published)
        if email_before and email_before != email_after:
            await self.store.release_email(email_before, person_id)
        if decision.published is not None:
            log.info("profile changed", published=decision.published.type, person_id=person_id)
        return entries


def _live_email(snapshot: ProfileSnapshot | None) -> str | None:
    """The work email a profile holds while it is not deactivated (emails are case-insensitive)."""
    if snapshot is None or snapshot.status is ProfileStatus.DEACTIVATED:
        return None
    return str(snapshot.email).lower()


def build_router(runtime: Runtime) -> KafkaRouter:
    """Built per process: a FastStream router can belong to one broker only."""
    router = KafkaRouter()
    intake = ProfileIntake(ProfileStore(runtime.db), runtime.publisher)

    @subscribe(router, runtime.settings, HR_EMPLOYEES)
    async def on_hr_event(event: HrEmployeeEvent) -> None:
        await intake.apply(event.subject, event, lambda record: domain.on_hr_event(record, event))

    @subscribe(router, runtime.settings, PROFILE_COMMANDS)
    async def on_profile_command(command: UpdateProfile | RegisterExternalMentor) -> None:
        if isinstance(command, UpdateProfile):
            await intake.apply(command.subject, command, lambda r: domain.on_update_profile(r, command))
        else:
            await intake.apply(
                command.subject, command, lambda r: domain.on_register_external_mentor(r, command)
            )

    return router


class ProfilePage(BaseModel):
    items: list[ProfileSnapshot]
    next_after: str | None


def build_http(runtime: Runtime) -> APIRouter:
    """Read API for front ends and operators; every route needs the bearer token."""
    store = ProfileStore(runtime.db)
    api = APIRouter(
        prefix="/profiles", tags=["profiles"], dependencies=[Depends(require_token(runtime.settings))]
    )

    @api.get("/{person_id}")
    async def get_profile(person_id: str) -> ProfileSnapshot:
        snapshot = await store.get(person_id)
        if snapshot is None:
            raise HTTPException(404, f"no profile for {person_id}")
        return snapshot

    @api.get("")
    async def search_profiles(
        skill: str | None = None,
        team: str | None = None,
        available_mentors: Annotated[bool, Query(description="Only active mentors with capacity.")] = False,
        after: Annotated[str | None, Query(description="Continue after this person id.")] = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
    ) -> ProfilePage:
        items = await store.search(
            skill=skill, team=team, available_mentors=available_mentors, after=after, limit=limit
        )
        return ProfilePage(items=items, next_after=items[-1].person_id if len(items) == limit else None)

    return api


definition = ServiceDefinition(
    name=domain.SERVICE,
    settings_cls=ProfileSettings,
    build_router=build_router,
    ensure_indexes=ensure_indexes,
    consumes=(HR_EMPLOYEES, PROFILE_COMMANDS),
    publishes=(PROFILE_EVENTS,),
    outbox_collections=("profiles",),
    build_http=build_http,
    description="People, skills, goals, availability and preferences.",
)
