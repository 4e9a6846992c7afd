"""Value types shared by many messages: identifiers, time zones, skills, availability."""

from __future__ import annotations

import re
import zoneinfo
from datetime import time
from enum import StrEnum
from functools import cache
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@\-]{0,127}$"

EntityId = Annotated[
    str,
    StringConstraints(pattern=ID_PATTERN),
    Field(description="A stable identifier: letters, digits and . _ : @ -, at most 128 characters."),
]
"""An id issued by us or by an outside system (an HR employee id, for example)."""

PersonId = Annotated[
    EntityId,
    Field(description="The person's id in the HR system of record; it never changes for a person."),
]

ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)]
Tag = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=64),
    Field(description="A lower-case label such as a skill, interest or language code."),
]


@cache
def _known_time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _check_time_zone(name: str) -> str:
    if name not in _known_time_zones():
        # The value is left out: reasons reach logs and dead letters, and it may be anything.
        raise ValueError("unknown time zone: use an IANA name such as 'Europe/Berlin'")
    return name


TimeZoneName = Annotated[
    str,
    AfterValidator(_check_time_zone),
    Field(description="An IANA time zone name, for example 'America/New_York'.", examples=["Europe/Berlin"]),
]

LANGUAGE_PATTERN = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")


def _check_language(code: str) -> str:
    if not LANGUAGE_PATTERN.match(code):
        raise ValueError("not a language code such as 'en' or 'pt-BR'")
    return code


LanguageCode = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=16),
    AfterValidator(_check_language),
    Field(description="A BCP 47 language code, for example 'en' or 'pt-BR'."),
]


class Frozen(BaseModel):
    """Base of every contract model: immutable, and tolerant of fields added by newer producers."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class SkillLevel(StrEnum):
    """How well someone knows a skill; matching weighs a mentor's coverage by it."""

    LEARNING = "learning"
    WORKING = "working"
    PROFICIENT = "proficient"
    EXPERT = "expert"


class Skill(Frozen):
    name: Tag
    level: SkillLevel = SkillLevel.WORKING


class Weekday(StrEnum):
    MONDAY = "monday"
    TUESDAY = "tuesday"
    WEDNESDAY = "wednesday"
    THURSDAY = "thursday"
    FRIDAY = "friday"
    SATURDAY = "saturday"
    SUNDAY = "sunday"


class AvailabilityWindow(Frozen):
    """A weekly window of wall-clock time in the person's own time zone."""

    weekday: Weekday
    start: time = Field(description="Local start time, HH:MM.")
    end: time = Field(description="Local end time, HH:MM; later than start on the same day.")

    @model_validator(mode="after")
    def _end_after_start(self) -> AvailabilityWindow:
        if self.end <= self.start:
            raise ValueError("end must be later than start within the same day")
        return self


class MentorshipKind(StrEnum):
    """Every form of mentorship the platform arranges."""

    ONE_TO_ONE = "one_to_one"
    REVERSE = "reverse"
    PEER_CIRCLE = "peer_circle"
    ADVISORY_BOARD = "advisory_board"
    EXTERNAL = "external"


class Level(StrEnum):
    """Career level, coarse enough for any HR ladder to map onto."""

    INTERN = "intern"
    JUNIOR = "junior"
    MID = "mid"
    SENIOR = "senior"
    STAFF = "staff"
    PRINCIPAL = "principal"
    MANAGER = "manager"
    DIRECTOR = "director"
    EXECUTIVE = "executive"


LEVEL_RANK: dict[Level, int] = {
    Level.INTERN: 0,
    Level.JUNIOR: 1,
    Level.MID: 2,
    Level.SENIOR: 3,
    Level.STAFF: 4,
    Level.MANAGER: 4,
    Level.PRINCIPAL: 5,
    Level.DIRECTOR: 5,
    Level.EXECUTIVE: 6,
}
"""Seniority order used to compute gaps; manager and IC ladders meet at equal rank."""
