"""The CSV import on the real broker: exactly the valid rows arrive, the bad ones are listed."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest

from contracts.catalogue import HR_EMPLOYEES
from services.profile import importer
from services.profile.app import ProfileSettings
from services.profile.importer import plan_import, send
from tests.support.hr_csv import BAD_ROWS, hr_export
from tests.support.infrastructure import Infrastructure
from tests.support.kafka import read_all
from tests.support.services import settings_for


async def test_importing_5000_rows_sends_exactly_the_valid_ones_once(
    infrastructure: Infrastructure, namespace: str
) -> None:
    settings = settings_for(ProfileSettings, infrastructure, namespace)
    plan = plan_import(io.StringIO(hr_export(5000)))

    sent = await send(plan, settings, show_progress=False)
    records = await read_all(infrastructure.kafka_bootstrap, settings.topic(HR_EMPLOYEES.name))

    expected = 5000 - len(BAD_ROWS)
    assert sent == expected
    assert len(records) == expected
    keys = {r.key for r in records}
    assert len(keys) == expected
    assert b"B1" not in keys
    first = json.loads(records[0].value or b"")
    assert first["type"] == "employee.onboarded"
    assert first["source"] == "csv-import"


@pytest.fixture
def cli_environment(infrastructure: Infrastructure, namespace: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point the command-line importer at the test broker and this test's topics."""
    monkeypatch.setenv("PROFILE_KAFKA__BOOTSTRAP_SERVERS", infrastructure.kafka_bootstrap)
    monkeypatch.setenv("PROFILE_KAFKA__TOPIC_PREFIX", f"{namespace}.")
    return f"{namespace}.{HR_EMPLOYEES.name}"


async def test_a_dry_run_reports_but_sends_nothing(
    infrastructure: Infrastructure, cli_environment: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "export.csv"
    path.write_text(hr_export(60))
    status = await asyncio.to_thread(importer.main, [str(path), "--dry-run"])
    records = await read_all(infrastructure.kafka_bootstrap, cli_environment)

    assert status == 2
    assert "row 50: " in capsys.readouterr().err
    assert records == []


async def test_the_command_sends_the_valid_rows_and_says_which_were_not(
    infrastructure: Infrastructure, cli_environment: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "export.csv"
    path.write_text(hr_export(60))
    status = await asyncio.to_thread(importer.main, [str(path)])
    records = await read_all(infrastructure.kafka_bootstrap, cli_environment)
    output = capsys.readouterr().err

    assert status == 2
    assert len(records) == 59
    assert "row 50: work_email" in output
    assert "sent 59 onboarding event(s)" in output
