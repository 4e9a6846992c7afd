"""Valid contract messages for tests, with only what a test cares about spelled out."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

from contracts.inbound import EmployeeOnboarded
from contracts.profile import MatchingPreferences
from services.matching.candidates import Candidate


def onboarding_json(employee_id: str | None = None, **payload: Any) -> dict[str, Any]:
    """The JSON an HR system would send for a new hire."""
    employee_id = employee_id or f"E{uuid.uuid4().hex[:8]}"
    body = {
        "employee_id": employee_id,
        "full_name": "Ada Example",
        "work_email": f"{employee_id.lower()}@example.com",
        "start_date": date(2026, 12, 1).isoformat(),
        "title": "Software Engineer",
        "team": "payments",
        "time_zone": "Europe/Berlin",
        **payload,
    }
    return {
        "event_id": str(uuid.uuid4()),
        "type": "employee.onboarded",
        "version": 1,
        "source": "workday",
        "occurred_at": datetime.now(UTC).isoformat(),
        "subject": employee_id,
        "payload": body,
    }


def onboarding(employee_id: str | None = None, **payload: Any) -> EmployeeOnboarded:
    return EmployeeOnboarded.model_validate(onboarding_json(employee_id, **payload))


def hr_event(kind: str, employee_id: str, at: datetime, event_id: str | None = None, **payload: Any) -> Any:
    """Any inbound HR event, decoded through the real topic contract."""
    from contracts.catalogue import HR_EMPLOYEES, decode_object

    body: dict[str, Any] = {"employee_id": employee_id, **payload}
    if kind == "employee.onboarded":
        body = {**onboarding_json(employee_id)["payload"], **payload}
    return decode_object(
        HR_EMPLOYEES.name,
        {
            "event_id": event_id or str(uuid.uuid4()),
            "type": kind,
            "source": "hr",
            "occurred_at": at.isoformat(),
            "payload": body,
        },
    )


_CANDIDATE = Candidate(
    person_id="P",
    active=True,
    external=False,
    level_rank=2,
    team=None,
    manager_id=None,
    utc_offset_hours=0.0,
    skills={},
    goals=frozenset(),
    interests=frozenset(),
    languages=frozenset(),
    availability=(),
    mentor_capacity=0,
    mentee=True,
    preferences=MatchingPreferences(),
    programmes=frozenset(),
)


def candidate(person_id: str, *, max_time_zone_gap_hours: int | None = None, **fields: Any) -> Candidate:
    """Matching's view of a person, built directly for pure matching logic: an active mid-level
    mentee at UTC+0 with nothing else stated, plus the ``Candidate`` fields given."""
    preferences = MatchingPreferences(max_time_zone_gap_hours=max_time_zone_gap_hours)
    return replace(_CANDIDATE, person_id=person_id, preferences=preferences, **fields)
