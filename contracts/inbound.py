"""The inbound contract: what HR, onboarding and directory systems send us.

This is the first thing an integrator reads. An HR system reliably knows a person's id,
name, work email and start date; everything else is optional, and unknown extra fields are
ignored so a newer producer never breaks us. What is really invalid (no id, a malformed
email, an unknown time zone) is rejected with an error that names the field.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import EmailStr, Field

from contracts.common import Level, PersonId, ShortText, Skill, Tag, TimeZoneName
from contracts.envelope import Envelope, Payload


class EmployeeOnboardedData(Payload):
    employee_id: PersonId
    full_name: ShortText
    work_email: EmailStr
    start_date: date = Field(description="First working day, YYYY-MM-DD.")
    title: ShortText | None = None
    level: Level | None = None
    team: ShortText | None = None
    manager_id: PersonId | None = None
    location: ShortText | None = Field(default=None, description="Office or city, free text.")
    time_zone: TimeZoneName | None = Field(
        default=None, description="IANA name; when absent the person is asked for it later."
    )
    skills: list[Skill] = Field(default_factory=list, max_length=100)
    interests: list[Tag] = Field(default_factory=list, max_length=100)
    programmes: list[Tag] = Field(
        default_factory=list,
        max_length=20,
        description="Programme ids to enrol in; new hires join 'onboarding' when empty.",
    )


class EmployeeUpdatedData(Payload):
    """Only the fields present change; an absent field keeps its current value."""

    employee_id: PersonId
    full_name: ShortText | None = None
    work_email: EmailStr | None = None
    title: ShortText | None = None
    level: Level | None = None
    team: ShortText | None = None
    manager_id: PersonId | None = None
    location: ShortText | None = None
    time_zone: TimeZoneName | None = None


class EmployeeOffboardedData(Payload):
    employee_id: PersonId
    last_day: date | None = None


class EmployeeLeaveStartedData(Payload):
    employee_id: PersonId
    starts_on: date
    expected_return: date | None = None


class EmployeeLeaveEndedData(Payload):
    employee_id: PersonId
    returned_on: date


class _EmployeeEvent(Envelope):
    subject_field = "employee_id"


class EmployeeOnboarded(_EmployeeEvent):
    """A person joined (or will join on ``start_date``)."""

    type: Literal["employee.onboarded"] = "employee.onboarded"
    version: Literal[1] = 1
    payload: EmployeeOnboardedData


class EmployeeUpdated(_EmployeeEvent):
    """Role, level, team, manager, location or time zone changed."""

    type: Literal["employee.updated"] = "employee.updated"
    version: Literal[1] = 1
    payload: EmployeeUpdatedData


class EmployeeOffboarded(_EmployeeEvent):
    """A person left; all of their mentorship stops."""

    type: Literal["employee.offboarded"] = "employee.offboarded"
    version: Literal[1] = 1
    payload: EmployeeOffboardedData


class EmployeeLeaveStarted(_EmployeeEvent):
    """A person went on leave; their mentorship pauses."""

    type: Literal["employee.leave_started"] = "employee.leave_started"
    version: Literal[1] = 1
    payload: EmployeeLeaveStartedData


class EmployeeLeaveEnded(_EmployeeEvent):
    """A person is back from leave; their mentorship resumes."""

    type: Literal["employee.leave_ended"] = "employee.leave_ended"
    version: Literal[1] = 1
    payload: EmployeeLeaveEndedData


HrEmployeeEvent = (
    EmployeeOnboarded | EmployeeUpdated | EmployeeOffboarded | EmployeeLeaveStarted | EmployeeLeaveEnded
)
"""Any message of the inbound HR topic."""
