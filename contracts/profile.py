"""Profile commands and events.

Profile events carry the full snapshot with a per-person ``revision`` that only grows, so a
consumer builds its own read model by keeping the snapshot with the highest revision and
ignoring older ones, whatever order they arrive in.
"""

from __future__ import annotations

from datetime import date, time
from enum import StrEnum
from typing import Literal

from pydantic import EmailStr, Field, HttpUrl

from contracts.common import (
    AvailabilityWindow,
    Frozen,
    LanguageCode,
    Level,
    LongText,
    PersonId,
    ShortText,
    Skill,
    Tag,
    TimeZoneName,
)
from contracts.envelope import Envelope, Payload


class ProfileStatus(StrEnum):
    ACTIVE = "active"
    ON_LEAVE = "on_leave"
    DEACTIVATED = "deactivated"


class Channel(StrEnum):
    """Where a person can be reached."""

    EMAIL = "email"
    SLACK = "slack"
    TEAMS = "teams"
    WEBHOOK = "webhook"


class MentorSettings(Frozen):
    opted_in: bool = False
    capacity: int = Field(default=0, ge=0, le=20, description="How many mentees at once.")


class MenteeSettings(Frozen):
    opted_in: bool = True


class MatchingPreferences(Frozen):
    reverse_mentorship: bool = Field(default=False, description="Open to reverse mentoring.")
    peer_circle: bool = False
    advisory_board: bool = False
    external_mentor: bool = False
    same_team_allowed: bool = Field(
        default=False, description="Whether a mentor from the person's own team is acceptable."
    )
    max_time_zone_gap_hours: int | None = Field(
        default=None, ge=0, le=26, description="Largest UTC offset difference accepted; none means any."
    )


class QuietHours(Frozen):
    """Local times between which chat messages wait (may span midnight)."""

    start: time
    end: time


class ContactPreferences(Frozen):
    channels: list[Channel] = Field(default_factory=lambda: [Channel.EMAIL], max_length=4)
    slack_user_id: ShortText | None = None
    slack_webhook_url: HttpUrl | None = None
    teams_webhook_url: HttpUrl | None = None
    webhook_url: HttpUrl | None = None
    quiet_hours: QuietHours | None = None
    digest: bool = Field(default=False, description="Bundle non-urgent messages into a daily digest.")


class ProfileSnapshot(Payload):
    """Everything other services may know about a person."""

    person_id: PersonId
    revision: int = Field(ge=1, description="Grows with every change; newer wins.")
    status: ProfileStatus
    display_name: ShortText
    email: EmailStr
    title: ShortText | None = None
    level: Level | None = None
    team: ShortText | None = None
    manager_id: PersonId | None = None
    location: ShortText | None = None
    time_zone: TimeZoneName | None = None
    start_date: date | None = None
    external: bool = Field(default=False, description="A cross-industry mentor outside the company.")
    organisation: ShortText | None = None
    bio: LongText | None = None
    skills: list[Skill] = Field(default_factory=list, max_length=100)
    interests: list[Tag] = Field(default_factory=list, max_length=100)
    goals: list[Tag] = Field(
        default_factory=list, max_length=50, description="Skills or topics the person wants to grow in."
    )
    languages: list[LanguageCode] = Field(default_factory=list, max_length=20)
    availability: list[AvailabilityWindow] = Field(default_factory=list, max_length=50)
    mentor: MentorSettings = MentorSettings()
    mentee: MenteeSettings = MenteeSettings()
    preferences: MatchingPreferences = MatchingPreferences()
    programmes: list[Tag] = Field(default_factory=list, max_length=20)
    contact: ContactPreferences = ContactPreferences()


class UpdateProfileData(Payload):
    """Each field present replaces the current value; absent fields stay as they are."""

    person_id: PersonId
    skills: list[Skill] | None = Field(default=None, max_length=100)
    interests: list[Tag] | None = Field(default=None, max_length=100)
    goals: list[Tag] | None = Field(default=None, max_length=50)
    languages: list[LanguageCode] | None = Field(default=None, max_length=20)
    availability: list[AvailabilityWindow] | None = Field(default=None, max_length=50)
    time_zone: TimeZoneName | None = None
    mentor: MentorSettings | None = None
    mentee: MenteeSettings | None = None
    preferences: MatchingPreferences | None = None
    programmes: list[Tag] | None = Field(default=None, max_length=20)
    contact: ContactPreferences | None = None
    bio: LongText | None = None


class RegisterExternalMentorData(Payload):
    person_id: PersonId
    display_name: ShortText
    email: EmailStr
    organisation: ShortText
    time_zone: TimeZoneName
    skills: list[Skill] = Field(min_length=1, max_length=100)
    capacity: int = Field(default=1, ge=1, le=20)
    languages: list[LanguageCode] = Field(default_factory=list, max_length=20)
    availability: list[AvailabilityWindow] = Field(default_factory=list, max_length=50)
    bio: LongText | None = None


class ProfileDeactivatedData(Payload):
    person_id: PersonId
    revision: int = Field(ge=1)
    reason: Literal["offboarded", "external_mentor_removed"] = "offboarded"
    snapshot: ProfileSnapshot


class _PersonMessage(Envelope):
    subject_field = "person_id"


class UpdateProfile(_PersonMessage):
    """Set skills, goals, availability, mentor capacity, preferences and more."""

    kind = "command"
    type: Literal["profile.update"] = "profile.update"
    version: Literal[1] = 1
    payload: UpdateProfileData


class RegisterExternalMentor(_PersonMessage):
    """Add a cross-industry mentor who is not an employee."""

    kind = "command"
    type: Literal["profile.register_external_mentor"] = "profile.register_external_mentor"
    version: Literal[1] = 1
    payload: RegisterExternalMentorData


class ProfileCreated(_PersonMessage):
    """A person's profile exists, with its first snapshot."""

    type: Literal["profile.created"] = "profile.created"
    version: Literal[1] = 1
    payload: ProfileSnapshot


class ProfileUpdated(_PersonMessage):
    """A person's profile changed (including leave and return); the full new snapshot."""

    type: Literal["profile.updated"] = "profile.updated"
    version: Literal[1] = 1
    payload: ProfileSnapshot


class ProfileDeactivated(_PersonMessage):
    """A person left: every service stops their mentorship."""

    type: Literal["profile.deactivated"] = "profile.deactivated"
    version: Literal[1] = 1
    payload: ProfileDeactivatedData
