"""The whole catalogue: the topics of the platform and the messages on each.

``decode`` turns the bytes of any topic into the right message class through the topic's
discriminated union, with a pydantic ``ValidationError`` naming the field when they do not
fit.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any, Union

from pydantic import BeforeValidator, Field, TypeAdapter
from pydantic_core import PydanticCustomError

from contracts import inbound, matching, notification, profile, recognition, scheduling
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

MATCHING_COMMANDS = TopicSpec(
    name="matching.commands.v1",
    owner="matching",
    key="the message's subject: requester id for requests, match id for responses and ends, "
    "programme id for cohort rounds",
    description="Requests for mentorship, responses to proposals, ended matches, expired proposals, "
    "cohort rounds.",
    messages=(
        matching.RequestMentorship,
        matching.RespondToProposal,
        matching.EndMatch,
        matching.ExpireProposal,
        matching.RunCohortRound,
    ),
    consumers=("matching",),
)

MATCHING_EVENTS = TopicSpec(
    name="matching.events.v1",
    owner="matching",
    key="match id for match events; person, circle, board or programme id for the others",
    description="Proposals with their score breakdown, confirmations, declines, ends, expiries, pauses, "
    "waitlist, "
    "circles, advisory boards and cohort rounds.",
    messages=(
        matching.MatchProposed,
        matching.MatchConfirmed,
        matching.MatchDeclined,
        matching.MatchEnded,
        matching.ProposalExpired,
        matching.MatchPaused,
        matching.MatchResumed,
        matching.RequestWaitlisted,
        matching.CircleFormed,
        matching.AdvisoryBoardFormed,
        matching.CohortRoundCompleted,
    ),
    consumers=("scheduling", "notification", "recognition"),
)

SCHEDULING_COMMANDS = TopicSpec(
    name="scheduling.commands.v1",
    owner="scheduling",
    key="the resource whose seats or times change: office hours, group session or session id",
    description="Office hours, bookings, group sessions, registrations, reschedules, cancellations "
    "and outcomes.",
    messages=(
        scheduling.PublishOfficeHours,
        scheduling.BookOfficeHours,
        scheduling.CancelOfficeHoursBooking,
        scheduling.AnnounceGroupSession,
        scheduling.RegisterForGroupSession,
        scheduling.CancelGroupRegistration,
        scheduling.RescheduleSession,
        scheduling.CancelSession,
        scheduling.RecordSessionOutcome,
    ),
    consumers=("scheduling",),
)

SCHEDULING_EVENTS = TopicSpec(
    name="scheduling.events.v1",
    owner="scheduling",
    key="session, match, office hours or group session id (the message's subject)",
    description="Sessions scheduled, rescheduled, cancelled and completed; reminders; office hours and "
    "group sessions; inactive matches; refused bookings.",
    messages=(
        scheduling.SessionScheduled,
        scheduling.SessionRescheduled,
        scheduling.SessionCancelled,
        scheduling.SessionCompleted,
        scheduling.ReminderDue,
        scheduling.NoSlotFound,
        scheduling.MatchInactive,
        scheduling.OfficeHoursPublished,
        scheduling.OfficeHoursBooked,
        scheduling.OfficeHoursBookingCancelled,
        scheduling.BookingRefused,
        scheduling.GroupSessionAnnounced,
        scheduling.SeatReserved,
        scheduling.Waitlisted,
    ),
    consumers=("matching", "notification", "recognition"),
)

NOTIFICATION_EVENTS = TopicSpec(
    name="notification.events.v1",
    owner="notification",
    key="recipient person id",
    description="Per channel: delivered, or failed with the reason.",
    messages=(notification.NotificationDelivered, notification.NotificationFailed),
    consumers=(),
)

RECOGNITION_COMMANDS = TopicSpec(
    name="recognition.commands.v1",
    owner="recognition",
    key="the person thanked",
    description="Kudos from one person to another.",
    messages=(recognition.GiveKudos,),
    consumers=("recognition",),
)

RECOGNITION_EVENTS = TopicSpec(
    name="recognition.events.v1",
    owner="recognition",
    key="person id; digest id for digests",
    description="Points (and their reversals), badges, kudos and periodic digests, for notification "
    "and for HR, performance and chat systems.",
    messages=(
        recognition.PointsAwarded,
        recognition.BadgeAwarded,
        recognition.KudosGiven,
        recognition.RecognitionDigestReady,
    ),
    # Recognition folds its own points events into standings, one writer per person.
    consumers=("notification", "recognition"),
)

TOPICS: tuple[TopicSpec, ...] = (
    HR_EMPLOYEES,
    PROFILE_COMMANDS,
    PROFILE_EVENTS,
    MATCHING_COMMANDS,
    MATCHING_EVENTS,
    SCHEDULING_COMMANDS,
    SCHEDULING_EVENTS,
    NOTIFICATION_EVENTS,
    RECOGNITION_COMMANDS,
    RECOGNITION_EVENTS,
)

MESSAGE_TYPES: tuple[type[Envelope], ...] = tuple(m for t in TOPICS for m in t.messages)


def _check_registry() -> None:
    seen: dict[str, str] = {}
    for spec in TOPICS:
        for message in spec.messages:
            kind = message.message_type()
            if kind in seen:
                raise RuntimeError(f"message type {kind} is on both {seen[kind]} and {spec.name}")
            if not message.subject_field:
                raise RuntimeError(f"{message.__name__} names no subject field")
            seen[kind] = spec.name


_check_registry()


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
        # No union decides by ``type`` here, yet the published schema requires it as well.
        single: Any = Annotated[messages[0], BeforeValidator(_type_given)]
        return TypeAdapter(single)
    union = Union[messages]  # type: ignore[valid-type]  # noqa: UP007 - built at runtime
    return TypeAdapter(Annotated[union, Field(discriminator="type")])


def _type_given(data: Any) -> Any:
    if isinstance(data, dict) and "type" not in data:
        raise PydanticCustomError("missing", "the message type is required")
    return data


def decode(topic_name: str, raw: bytes | str) -> Envelope:
    """Decode a message of the given logical topic into its class."""
    message: Envelope = _adapter(topic_name).validate_json(raw)
    return message


def decode_object(topic_name: str, data: object) -> Envelope:
    """Like ``decode``, for a message already parsed from JSON (for example read from a database)."""
    message: Envelope = _adapter(topic_name).validate_python(data)
    return message
