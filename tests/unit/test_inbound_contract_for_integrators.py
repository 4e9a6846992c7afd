"""What an HR system written in any language may send, and what it gets back when it is wrong."""

from __future__ import annotations

import json
from datetime import UTC

import pydantic
import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.catalogue import HR_EMPLOYEES, decode
from contracts.inbound import EmployeeOnboarded, EmployeeUpdated

# Written by hand from contracts/schemas/employee.onboarded.v1.json alone, as a Java or
# Node producer would: only the required fields, a local offset, and fields we do not know.
HAND_WRITTEN = """
{
  "type": "employee.onboarded",
  "event_id": "wd-88231",
  "source": "workday",
  "occurred_at": "2026-11-30T17:05:00-05:00",
  "payload": {
    "employee_id": "100234",
    "full_name": "Jonas Meyer",
    "work_email": "jonas.meyer@example.com",
    "start_date": "2027-01-04",
    "cost_center": "CC-19",
    "badge_photo_url": "https://hr.example/p/100234.jpg"
  },
  "producer_build": "2.14.0"
}
"""


def test_a_hand_written_event_from_another_language_is_accepted() -> None:
    event = decode(HR_EMPLOYEES.name, HAND_WRITTEN)
    assert isinstance(event, EmployeeOnboarded)
    assert event.subject == "100234"
    assert event.correlation_id == "wd-88231"
    assert event.occurred_at.tzinfo == UTC
    assert event.occurred_at.hour == 22
    assert event.payload.time_zone is None


def _onboarding(**payload_changes: object) -> dict[str, object]:
    body = json.loads(HAND_WRITTEN)
    body["payload"].update(payload_changes)
    return dict(body)


def _without(field: str) -> dict[str, object]:
    body = json.loads(HAND_WRITTEN)
    del body["payload"][field]
    return dict(body)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_without("employee_id"), "payload.employee_id"),
        (_onboarding(work_email="jonas.meyer@"), "payload.work_email"),
        (_onboarding(time_zone="Europe/Atlantis"), "payload.time_zone"),
        (_onboarding(start_date="next monday"), "payload.start_date"),
        (_onboarding(skills="python"), "payload.skills"),
        (_onboarding(employee_id="has spaces and / slashes"), "payload.employee_id"),
    ],
    ids=["missing id", "malformed email", "unknown time zone", "not a date", "wrong type", "bad id"],
)
def test_an_invalid_inbound_event_is_rejected_with_the_field_named(
    body: dict[str, object], field: str
) -> None:
    with pytest.raises(pydantic.ValidationError) as rejected:
        decode(HR_EMPLOYEES.name, json.dumps(body))
    locations = {".".join(str(p) for p in e["loc"][1:]) for e in rejected.value.errors()}
    assert field in locations


def test_truncated_json_is_rejected_as_invalid_json() -> None:
    with pytest.raises(pydantic.ValidationError, match="Invalid JSON"):
        decode(HR_EMPLOYEES.name, HAND_WRITTEN[:120])


def test_an_unknown_message_type_is_rejected_with_the_types_this_topic_accepts() -> None:
    body = json.loads(HAND_WRITTEN)
    body["type"] = "employee.promoted"
    with pytest.raises(pydantic.ValidationError, match=r"employee\.onboarded"):
        decode(HR_EMPLOYEES.name, json.dumps(body))


def test_a_subject_that_contradicts_the_payload_is_rejected() -> None:
    body = json.loads(HAND_WRITTEN)
    body["subject"] = "someone-else"
    with pytest.raises(pydantic.ValidationError, match=r"differs from payload\.employee_id"):
        decode(HR_EMPLOYEES.name, json.dumps(body))


def test_an_update_changes_only_the_fields_it_names() -> None:
    update = decode(
        HR_EMPLOYEES.name,
        '{"type": "employee.updated", "event_id": "u1", "source": "hr", '
        '"occurred_at": "2026-12-01T00:00:00Z", "payload": {"employee_id": "7", "team": "data"}}',
    )
    assert isinstance(update, EmployeeUpdated)
    assert update.payload.model_fields_set == {"employee_id", "team"}


@given(offset_minutes=st.integers(min_value=-14 * 60, max_value=14 * 60))
def test_any_utc_offset_is_stored_as_the_same_instant_in_utc(offset_minutes: int) -> None:
    sign = "+" if offset_minutes >= 0 else "-"
    hours, minutes = divmod(abs(offset_minutes), 60)
    body = json.loads(HAND_WRITTEN)
    body["occurred_at"] = f"2026-06-15T12:00:00{sign}{hours:02d}:{minutes:02d}"
    event = decode(HR_EMPLOYEES.name, json.dumps(body))
    assert event.occurred_at.tzinfo == UTC
    local_noon_minutes = 12 * 60
    utc_minutes = event.occurred_at.hour * 60 + event.occurred_at.minute
    assert (utc_minutes + offset_minutes - local_noon_minutes) % (24 * 60) == 0


# Names no version of the contract uses: a producer's own additions.
UNKNOWN_NAMES = st.text(min_size=1, max_size=20).map(lambda name: f"x-{name}")


@given(extra=st.dictionaries(UNKNOWN_NAMES, st.text(max_size=50), max_size=5))
def test_unknown_extra_fields_never_break_decoding(extra: dict[str, str]) -> None:
    body = json.loads(HAND_WRITTEN)
    for key, value in extra.items():
        body.setdefault(key, value)
        body["payload"].setdefault(key, value)
    assert isinstance(decode(HR_EMPLOYEES.name, json.dumps(body)), EmployeeOnboarded)
