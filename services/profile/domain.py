"""Pure profile logic: turn onboarding facts into profile snapshots. No I/O here."""

from __future__ import annotations

from contracts.inbound import EmployeeOnboardedData
from contracts.profile import ContactPreferences, MenteeSettings, ProfileSnapshot, ProfileStatus

DEFAULT_PROGRAMME = "onboarding"


def profile_from_onboarding(data: EmployeeOnboardedData) -> ProfileSnapshot:
    """The first snapshot of a new hire: an active mentee, enrolled in onboarding by default."""
    return ProfileSnapshot(
        person_id=data.employee_id,
        revision=1,
        status=ProfileStatus.ACTIVE,
        display_name=data.full_name,
        email=data.work_email,
        title=data.title,
        level=data.level,
        team=data.team,
        manager_id=data.manager_id,
        location=data.location,
        time_zone=data.time_zone,
        start_date=data.start_date,
        skills=list(data.skills),
        interests=list(data.interests),
        mentee=MenteeSettings(opted_in=True),
        programmes=list(data.programmes) or [DEFAULT_PROGRAMME],
        contact=ContactPreferences(),
    )
