"""The checked-in schemas are current, and a model change never breaks a published version."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from contracts.compatibility import breaking_changes
from contracts.export import ROOT, BreakingChange, explain, incompatibilities, stale_files, write


def test_the_checked_in_schemas_examples_and_asyncapi_document_are_up_to_date() -> None:
    stale = stale_files()
    assert stale == [], "run `make contracts` and commit the result: " + ", ".join(stale)


def test_no_model_breaks_the_schema_published_for_its_version() -> None:
    found = incompatibilities()
    assert found == {}, explain(found)


def _published(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((ROOT / "schemas" / f"{name}.json").read_text())
    return loaded


def _payload_def(schema: dict[str, Any]) -> dict[str, Any]:
    definition: dict[str, Any] = schema["$defs"]["EmployeeOnboardedData"]
    return definition


def test_removing_a_field_is_reported_as_breaking() -> None:
    old = _published("employee.onboarded.v1")
    new = copy.deepcopy(old)
    del _payload_def(new)["properties"]["team"]
    assert breaking_changes(old, new) == ["removed field payload.team"]


def test_a_new_required_field_is_reported_as_breaking() -> None:
    old = _published("employee.onboarded.v1")
    new = copy.deepcopy(old)
    _payload_def(new)["properties"]["cost_centre"] = {"type": "string"}
    _payload_def(new)["required"].append("cost_centre")
    assert breaking_changes(old, new) == ["new required field payload.cost_centre"]


def test_narrowing_a_type_or_an_enum_or_a_limit_is_reported_as_breaking() -> None:
    old = _published("employee.onboarded.v1")
    new = copy.deepcopy(old)
    _payload_def(new)["properties"]["title"] = {"type": "string", "maxLength": 200}  # was nullable
    new["$defs"]["Level"]["enum"].remove("intern")
    _payload_def(new)["properties"]["full_name"]["maxLength"] = 50
    problems = breaking_changes(old, new)
    assert "narrowed type at payload.title: null is no longer accepted" in problems
    assert any(p.startswith("narrowed enum at payload.level") for p in problems)
    assert "tighter limit at payload.full_name: maxLength 200 -> 50" in problems


def test_adding_an_optional_field_is_compatible() -> None:
    old = _published("employee.onboarded.v1")
    new = copy.deepcopy(old)
    _payload_def(new)["properties"]["pronouns"] = {"anyOf": [{"type": "string"}, {"type": "null"}]}
    assert breaking_changes(old, new) == []


@pytest.fixture
def contracts_copy(tmp_path: Path) -> Path:
    for folder in ("schemas", "examples"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    shutil.copy(ROOT / "asyncapi.json", tmp_path / "asyncapi.json")
    return tmp_path


def test_the_staleness_check_fails_when_a_checked_in_file_was_edited_by_hand(contracts_copy: Path) -> None:
    path = contracts_copy / "schemas" / "employee.onboarded.v1.json"
    path.write_text(path.read_text().replace('"maxLength": 200', '"maxLength": 201', 1))
    assert stale_files(contracts_copy) == ["schemas/employee.onboarded.v1.json"]


def test_regenerating_refuses_to_overwrite_a_published_schema_with_a_breaking_one(
    contracts_copy: Path,
) -> None:
    path = contracts_copy / "schemas" / "employee.offboarded.v1.json"
    published = json.loads(path.read_text())
    # Pretend the published version had a field the current model no longer has.
    published["$defs"]["EmployeeOffboardedData"]["properties"]["reason"] = {"type": "string"}
    path.write_text(json.dumps(published))
    with pytest.raises(BreakingChange, match=r"removed field payload\.reason") as refused:
        write(contracts_copy)
    assert "make a new version" in str(refused.value)
    assert json.loads(path.read_text()) == published  # nothing was overwritten
