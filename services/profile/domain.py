"""Pure profile logic: what a person's profile is, given everything we were told. No I/O here.

A person's record keeps three sources apart:

- **HR facts**: every inbound HR event about them, kept as received. The HR part of the
  profile is a fold over these facts in the order they *occurred* (``occurred_at``, then a
  fixed precedence, then event id), not the order they *arrived*. Delivery order therefore
  does not matter: an update that arrives before its onboarding waits among the facts and
  takes effect the moment the onboarding is there, and a replayed fact is recognised by its
  event id.
- **External registration**: for cross-industry mentors who never appear in HR data.
- **Own settings**: what the person set themselves (skills, goals, availability, mentoring
  preferences...), applied in the order the commands arrived (they come from one person's
  front end and are keyed by that person, so Kafka keeps their order).

``decide`` turns a record and a message into the new record, the snapshot to publish and the
message that announces it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from contracts.envelope import Envelope, deterministic_id
from contracts.inbound import (
    EmployeeLeaveEnded,
    EmployeeLeaveStarted,
    EmployeeOffboarded,
    EmployeeOnboarded,
    EmployeeUpdated,
    HrEmployeeEvent,
)
from contracts.profile import (
    MenteeSettings,
    MentorSettings,
    ProfileCreated,
    ProfileDeactivated,
    ProfileDeactivatedData,
    ProfileSnapshot,
    ProfileStatus,
    ProfileUpdated,
    RegisterExternalMentor,
    UpdateProfile,
)

SERVICE = "profile"
DEFAULT_PROGRAMME = "onboarding"

# Facts that share an instant apply in a fixed, sensible order: a person is onboarded before
# anything else can happen to them, and leaves last.
_PRECEDENCE: dict[type[Envelope], int] = {
    EmployeeOnboarded: 0,
    EmployeeUpdated: 1,
    EmployeeLeaveStarted: 2,
    EmployeeLeaveEnded: 3,
    EmployeeOffboarded: 4,
}

_HR_FIELDS = ("title", "level", "team", "manager_id", "location")


class Rejected(Exception):
    """A message that is well-formed but cannot be applied; it says why in plain words."""


@dataclass(frozen=True)
class OwnSettings:
    """Fields a person set themselves, as JSON-ready values, and when their time zone was set."""

    values: dict[str, Any] = field(default_factory=dict)
    time_zone_at: datetime | None = None


@dataclass(frozen=True)
class PersonRecord:
    """Everything the profile service knows about one person."""

    person_id: str
    hr_facts: tuple[HrEmployeeEvent, ...] = ()
    external: RegisterExternalMentor | None = None
    own: OwnSettings = OwnSettings()
    snapshot: ProfileSnapshot | None = None

    def knows(self, event_id: str) -> bool:
        return any(fact.event_id == event_id for fact in self.hr_facts)


@dataclass(frozen=True)
class Decision:
    """The outcome of one message: the new record and what to publish (possibly nothing)."""

    record: PersonRecord
    published: Envelope | None


# ------------------------------------------------------------------ folding HR facts


@dataclass
class _HrView:
    display_name: str
    email: str
    start_date: Any
    status: ProfileStatus
    time_zone: str | None
    time_zone_at: datetime | None
    fields: dict[str, Any]
    skills: list[Any]
    interests: list[str]
    programmes: list[str]


def _ordered(facts: tuple[HrEmployeeEvent, ...]) -> list[HrEmployeeEvent]:
    unique = {fact.event_id: fact for fact in facts}
    return sorted(unique.values(), key=lambda f: (f.occurred_at, _PRECEDENCE[type(f)], f.event_id))


def _fold_hr(facts: tuple[HrEmployeeEvent, ...]) -> _HrView | None:
    view: _HrView | None = None
    for fact in _ordered(facts):
        if isinstance(fact, EmployeeOnboarded):
            data = fact.payload
            view = _HrView(
                display_name=data.full_name,
                email=str(data.work_email),
                start_date=data.start_date,
                status=ProfileStatus.ACTIVE,
                time_zone=data.time_zone,
                time_zone_at=fact.occurred_at if data.time_zone else None,
                fields={name: getattr(data, name) for name in _HR_FIELDS},
                skills=list(data.skills),
                interests=list(data.interests),
                programmes=list(data.programmes) or [DEFAULT_PROGRAMME],
            )
        elif view is None:
            continue  # happened before the onboarding we know of; nothing to change yet
        elif isinstance(fact, EmployeeUpdated):
            changed = fact.payload.model_fields_set - {"employee_id"}
            for name in changed:
                value = getattr(fact.payload, name)
                if name == "full_name" and value is not None:
                    view.display_name = value
                elif name == "work_email" and value is not None:
                    view.email = str(value)
                elif name == "time_zone" and value is not None:
                    view.time_zone, view.time_zone_at = value, fact.occurred_at
                elif name in _HR_FIELDS:
                    view.fields[name] = value
        elif isinstance(fact, EmployeeOffboarded):
            view.status = ProfileStatus.DEACTIVATED
        elif isinstance(fact, EmployeeLeaveStarted) and view.status is ProfileStatus.ACTIVE:
            view.status = ProfileStatus.ON_LEAVE
        elif isinstance(fact, EmployeeLeaveEnded) and view.status is ProfileStatus.ON_LEAVE:
            view.status = ProfileStatus.ACTIVE
    return view


# ------------------------------------------------------------------ projecting a snapshot


def _base_from_hr(view: _HrView, person_id: str) -> dict[str, Any]:
    return {
        "person_id": person_id,
        "status": view.status,
        "display_name": view.display_name,
        "email": view.email,
        "start_date": view.start_date,
        "time_zone": view.time_zone,
        "skills": view.skills,
        "interests": view.interests,
        "programmes": view.programmes,
        "mentee": MenteeSettings(opted_in=True),
        **view.fields,
    }


def _base_from_external(registration: RegisterExternalMentor) -> dict[str, Any]:
    data = registration.payload
    return {
        "person_id": data.person_id,
        "status": ProfileStatus.ACTIVE,
        "display_name": data.display_name,
        "email": str(data.email),
        "organisation": data.organisation,
        "external": True,
        "time_zone": data.time_zone,
        "skills": list(data.skills),
        "languages": list(data.languages),
        "availability": list(data.availability),
        "bio": data.bio,
        "mentor": MentorSettings(opted_in=True, capacity=data.capacity),
        "mentee": MenteeSettings(opted_in=False),
        "programmes": [],
    }


def project(record: PersonRecord, revision: int) -> ProfileSnapshot | None:
    """The profile as it stands, or None while nobody has onboarded or registered the person."""
    view = _fold_hr(record.hr_facts)
    if view is not None:
        base = _base_from_hr(view, record.person_id)
        hr_time_zone_at = view.time_zone_at
    elif record.external is not None:
        base = _base_from_external(record.external)
        hr_time_zone_at = record.external.occurred_at
    else:
        return None
    own = dict(record.own.values)
    # The newest statement of where a person is wins, whoever made it.
    own_tz_at = record.own.time_zone_at
    if (
        "time_zone" in own
        and hr_time_zone_at is not None
        and own_tz_at is not None
        and own_tz_at < hr_time_zone_at
    ):
        del own["time_zone"]
    return ProfileSnapshot.model_validate({**base, **own, "revision": revision})


def _same(a: ProfileSnapshot, b: ProfileSnapshot) -> bool:
    return a.model_dump(exclude={"revision"}) == b.model_dump(exclude={"revision"})


def _announce(record: PersonRecord, cause: Envelope) -> Decision:
    """Project the record; publish a snapshot event when the profile appeared or changed."""
    previous = record.snapshot
    revision = (previous.revision + 1) if previous else 1
    current = project(record, revision)
    if current is None or (previous is not None and _same(previous, current)):
        return Decision(record=record, published=None)
    event_id = deterministic_id(SERVICE, record.person_id, str(revision))
    message: Envelope
    if previous is None:
        message = ProfileCreated.create(current, source=SERVICE, caused_by=cause, event_id=event_id)
    elif current.status is ProfileStatus.DEACTIVATED and previous.status is not ProfileStatus.DEACTIVATED:
        message = ProfileDeactivated.create(
            ProfileDeactivatedData(
                person_id=current.person_id,
                revision=revision,
                reason="external_mentor_removed" if current.external else "offboarded",
                snapshot=current,
            ),
            source=SERVICE,
            caused_by=cause,
            event_id=event_id,
        )
    else:
        message = ProfileUpdated.create(current, source=SERVICE, caused_by=cause, event_id=event_id)
    return Decision(record=replace(record, snapshot=current), published=message)


# ------------------------------------------------------------------ decisions


def on_hr_event(record: PersonRecord, event: HrEmployeeEvent) -> Decision:
    """Record an HR fact (once) and announce what it changed."""
    if record.knows(event.event_id):
        return Decision(record=record, published=None)
    if record.external is not None:
        raise Rejected("this id belongs to a registered external mentor, not an employee")
    return _announce(replace(record, hr_facts=(*record.hr_facts, event)), event)


def on_update_profile(record: PersonRecord, command: UpdateProfile) -> Decision:
    """Apply the fields a person set; refused for unknown or deactivated people."""
    if record.snapshot is None:
        raise Rejected("there is no profile for this person yet")
    if record.snapshot.status is ProfileStatus.DEACTIVATED:
        raise Rejected("the profile is deactivated")
    changed = command.payload.model_fields_set - {"person_id"}
    values = dict(record.own.values)
    values.update(command.payload.model_dump(mode="json", include=changed))
    time_zone_at = command.occurred_at if "time_zone" in changed else record.own.time_zone_at
    own = OwnSettings(values=values, time_zone_at=time_zone_at)
    return _announce(replace(record, own=own), command)


def on_register_external_mentor(record: PersonRecord, command: RegisterExternalMentor) -> Decision:
    """Create (or refresh) a cross-industry mentor's profile."""
    if record.hr_facts:
        raise Rejected("this id belongs to an employee; external mentors need an id of their own")
    return _announce(replace(record, external=command), command)
