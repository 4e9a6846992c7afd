"""The whole catalogue: the topics of the platform and the messages on each.

``decode`` turns the bytes of any topic into the right message class through the topic's
discriminated union, with a pydantic ``ValidationError`` naming the field when they do not
fit.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any, Union

from pydantic import Field, TypeAdapter

from contracts import inbound, profile
from contracts.envelope import Envelope
from contracts.topics import TopicSpec

HR_EMPLOYEES = TopicSpec(
    name="hr.employees.v1",
    owner="hr",
    key="employee id (the HR system's person id)",
    description="Onboarding, changes, leave and offboarding, produced by HR and onboarding systems.",
    messages=(
        inbound.EmployeeOnboarded,
        inbound.EmployeeUpdated,
        inbound.EmployeeOffboarded,
        inbound.EmployeeLeaveStarted,
        inbound.EmployeeLeaveEnded,
    ),
    consumers=("profile",),
)

PROFILE_COMMANDS = TopicSpec(
    name="profile.commands.v1",
    owner="profile",
    key="person id",
    description="Changes people make to their own profile, and external mentor registrations.",
    messages=(profile.UpdateProfile, profile.RegisterExternalMentor),
    consumers=("profile",),
)

PROFILE_EVENTS = TopicSpec(
    name="profile.events.v1",
    owner="profile",
    key="person id",
    description="Full profile snapshots; every other service builds its read model from them.",
    messages=(profile.ProfileCreated, profile.ProfileUpdated, profile.ProfileDeactivated),
    consumers=("matching", "scheduling", "notification", "recognition"),
)

TOPICS: tuple[TopicSpec, ...] = (HR_EMPLOYEES, PROFILE_COMMANDS, PROFILE_EVENTS)

MESSAGE_TYPES: tuple[type[Envelope], ...] = tuple(m for t in TOPICS for m in t.messages)


@cache
def topic_of(message_cls: type[Envelope]) -> TopicSpec:
    """The topic a message class is published on."""
    for spec in TOPICS:
        if message_cls in spec.messages:
            return spec
    raise LookupError(f"{message_cls.__name__} is not registered on any topic")


@cache
def topic_named(name: str) -> TopicSpec:
    for spec in TOPICS:
        if spec.name == name:
            return spec
    raise LookupError(f"no topic named {name!r} in the registry")


@cache
def _adapter(topic_name: str) -> TypeAdapter[Any]:
    messages = topic_named(topic_name).messages
    if len(messages) == 1:
        return TypeAdapter(messages[0])
    union = Union[messages]  # type: ignore[valid-type]  # noqa: UP007 - built at runtime
    return TypeAdapter(Annotated[union, Field(discriminator="type")])


def decode(topic_name: str, raw: bytes | str) -> Envelope:
    """Decode a message of the given logical topic into its class."""
    message: Envelope = _adapter(topic_name).validate_json(raw)
    return message


def union_of(spec: TopicSpec) -> Any:
    """The annotated discriminated union of a topic's messages, usable as a handler type."""
    if len(spec.messages) == 1:
        return spec.messages[0]
    return Annotated[Union[spec.messages], Field(discriminator="type")]  # noqa: UP007
