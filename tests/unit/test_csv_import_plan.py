"""Checking an HR CSV export row by row before anything is sent."""

from __future__ import annotations

import io

from contracts.common import SkillLevel
from services.profile.importer import plan_import
from tests.support.hr_csv import BAD_ROWS, hr_export


def test_every_bad_row_is_reported_by_its_number_and_every_good_row_is_kept() -> None:
    plan = plan_import(io.StringIO(hr_export(5000)))
    assert [e.row for e in plan.invalid] == sorted(BAD_ROWS)
    assert len(plan.valid) == 5000 - len(BAD_ROWS)


def test_reasons_name_the_column_and_the_problem() -> None:
    reasons = {e.row: e.reason for e in plan_import(io.StringIO(hr_export(5000))).invalid}
    assert "work_email" in reasons[50]
    assert "full_name" in reasons[700]
    assert "unknown time zone" in reasons[1500]
    assert "start_date" in reasons[2500]
    assert reasons[3300] == "employee_id R0000 already on row 2"
    assert "level" in reasons[4000]
    assert "skills.0.level" in reasons[4800]


def test_optional_columns_become_the_event_fields() -> None:
    plan = plan_import(io.StringIO(hr_export(3)))
    payload = plan.valid[0].payload
    assert payload.time_zone == "Europe/Berlin"
    assert [(s.name, s.level) for s in payload.skills] == [
        ("python", SkillLevel.EXPERT),
        ("sql", SkillLevel.WORKING),
    ]
    assert payload.title == "Engineer"


def test_re_importing_the_same_file_yields_the_same_event_ids() -> None:
    first = plan_import(io.StringIO(hr_export(10)))
    second = plan_import(io.StringIO(hr_export(10)))
    assert [e.event_id for e in first.valid] == [e.event_id for e in second.valid]


def test_a_file_without_the_required_columns_is_refused_as_a_whole() -> None:
    plan = plan_import(io.StringIO("id,name\n1,Ada\n"))
    assert plan.valid == []
    assert plan.invalid[0].row == 1
    assert "employee_id, full_name, work_email, start_date" in plan.invalid[0].reason
