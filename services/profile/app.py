"""Kafka entrypoints of the profile service: translate, call the domain, persist, publish."""

from __future__ import annotations

from faststream.kafka import KafkaRouter

from contracts.catalogue import HR_EMPLOYEES, PROFILE_EVENTS
from contracts.envelope import deterministic_id
from contracts.inbound import EmployeeOnboarded, HrEmployeeEvent
from contracts.profile import ProfileCreated
from services.profile import domain
from services.profile.store import ProfileStore, ensure_indexes
from services.runtime import outbox
from services.runtime.broker import subscribe
from services.runtime.errors import UnprocessableMessage
from services.runtime.logging import get_logger
from services.runtime.service import Runtime, ServiceDefinition
from services.runtime.settings import ServiceSettings

SERVICE = "profile"
log = get_logger(__name__)


class ProfileSettings(ServiceSettings):
    service_name: str = SERVICE
    http_port: int = 8101


def build_router(runtime: Runtime) -> KafkaRouter:
    """Handlers close over the running service's store and publisher; built per process
    because a FastStream router can belong to one broker only."""
    router = KafkaRouter()
    store = ProfileStore(runtime.db)

    @subscribe(router, runtime.settings, HR_EMPLOYEES)
    async def on_hr_event(event: HrEmployeeEvent) -> None:
        if not isinstance(event, EmployeeOnboarded):
            raise UnprocessableMessage(f"{event.type} is not handled by this version")
        person_id = event.payload.employee_id
        if await store.get(person_id) is None:
            snapshot = domain.profile_from_onboarding(event.payload)
            created = ProfileCreated.create(
                snapshot,
                source=SERVICE,
                caused_by=event,
                event_id=deterministic_id(event.event_id, ProfileCreated.message_type()),
            )
            outcome = await store.create(snapshot, event.event_id, [created])
            log.info("onboarding recorded", outcome=outcome.value, person_id=person_id)
        # Also after a redelivery: sends what a crash may have left in the outbox.
        await outbox.deliver(store.profiles, person_id, runtime.publisher)

    return router


definition = ServiceDefinition(
    name=SERVICE,
    settings_cls=ProfileSettings,
    build_router=build_router,
    ensure_indexes=ensure_indexes,
    consumes=(HR_EMPLOYEES,),
    publishes=(PROFILE_EVENTS,),
    outbox_collections=("profiles",),
    description="People, skills, goals, availability and preferences.",
)
