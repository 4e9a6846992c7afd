"""Bulk import of an HR system's CSV export, for a first roll-out.

    python -m services.profile.importer people.csv [--dry-run]

Each valid row becomes an ``employee.onboarded`` event on the inbound topic, exactly as an
HR system would send it, so the import takes the same path (and has the same guarantees) as
live onboarding. Invalid rows are listed with their row number (the header is row 1, as in a
spreadsheet) and the reason; they never stop the valid rows. ``--dry-run`` only checks.

Columns (header names, any order; unknown columns are ignored; empty cells mean "unknown"):

| column | required | format |
| --- | --- | --- |
| employee_id | yes | the HR id |
| full_name | yes | |
| work_email | yes | |
| start_date | yes | YYYY-MM-DD |
| title, team, manager_id, location | no | text; manager_id is the manager's employee_id |
| level | no | intern, junior, mid, senior, staff, principal, manager, director, executive |
| time_zone | no | IANA name, e.g. Europe/Berlin |
| skills | no | ``;``-separated ``name`` or ``name:level`` (learning, working, proficient, expert) |
| interests, programmes | no | ``;``-separated |

Exit status: 0 when every row was valid, 2 when some rows were invalid (the valid ones were
still sent), 1 when the file cannot be read or Kafka cannot be reached.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pydantic
from rich.console import Console
from rich.progress import Progress

from contracts.catalogue import HR_EMPLOYEES
from contracts.envelope import deterministic_id
from contracts.inbound import EmployeeOnboarded
from services.profile.app import ProfileSettings
from services.runtime.broker import create_broker
from services.runtime.errors import field_errors
from services.runtime.publishing import MessagePublisher
from services.runtime.topics import ensure_topics

REQUIRED = ("employee_id", "full_name", "work_email", "start_date")
TEXT_COLUMNS = ("title", "level", "team", "manager_id", "location", "time_zone")
SOURCE = "csv-import"


@dataclass(frozen=True)
class RowError:
    row: int
    reason: str


@dataclass
class ImportPlan:
    valid: list[EmployeeOnboarded] = field(default_factory=list)
    invalid: list[RowError] = field(default_factory=list)


def _split(cell: str) -> list[str]:
    return [part.strip() for part in cell.split(";") if part.strip()]


def _skills(cell: str) -> list[dict[str, str]]:
    skills = []
    for item in _split(cell):
        name, _, level = item.partition(":")
        skills.append({"name": name.strip(), **({"level": level.strip()} if level.strip() else {})})
    return skills


def _payload(row: dict[str, str]) -> dict[str, Any]:
    payload: dict[str, Any] = {name: row[name] for name in (*REQUIRED, *TEXT_COLUMNS) if row.get(name)}
    if row.get("skills"):
        payload["skills"] = _skills(row["skills"])
    for name in ("interests", "programmes"):
        if row.get(name):
            payload[name] = _split(row[name])
    return payload


def plan_import(lines: Iterable[str], now: datetime | None = None) -> ImportPlan:
    """Check every row; valid ones become onboarding events with ids stable across re-imports."""
    occurred_at = (now or datetime.now(UTC)).isoformat()
    reader = csv.DictReader(lines)
    missing = [name for name in REQUIRED if name not in (reader.fieldnames or [])]
    plan = ImportPlan()
    if missing:
        plan.invalid.append(RowError(1, f"the header lacks required column(s): {', '.join(missing)}"))
        return plan
    seen_ids: dict[str, int] = {}
    seen_emails: dict[str, int] = {}
    for number, raw in enumerate(reader, start=2):
        row = {key.strip(): (value or "").strip() for key, value in raw.items() if key}
        payload = _payload(row)
        employee_id = payload.get("employee_id", "")
        try:
            event = EmployeeOnboarded.model_validate(
                {
                    "event_id": deterministic_id(SOURCE, employee_id),
                    "type": EmployeeOnboarded.message_type(),
                    "source": SOURCE,
                    "occurred_at": occurred_at,
                    "payload": payload,
                }
            )
        except pydantic.ValidationError as error:
            # Columns are the payload's fields; cell values stay out of the report.
            plan.invalid.append(RowError(number, "; ".join(field_errors(error, within="payload"))))
            continue
        email = str(event.payload.work_email).lower()
        if employee_id in seen_ids:
            plan.invalid.append(
                RowError(number, f"employee_id {employee_id} already on row {seen_ids[employee_id]}")
            )
        elif email in seen_emails:
            plan.invalid.append(RowError(number, f"work_email already on row {seen_emails[email]}"))
        else:
            seen_ids[employee_id], seen_emails[email] = number, number
            plan.valid.append(event)
    return plan


def _chunks(items: list[EmployeeOnboarded], size: int) -> Iterator[list[EmployeeOnboarded]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def send(plan: ImportPlan, settings: ProfileSettings, *, show_progress: bool = True) -> int:
    """Publish the valid rows to the inbound topic; returns how many were acknowledged."""
    await ensure_topics(settings, (HR_EMPLOYEES,))
    broker = create_broker(settings)
    await broker.connect()
    publisher = MessagePublisher(broker, settings)
    sent = 0
    try:
        with Progress(disable=not show_progress, transient=False) as progress:
            task = progress.add_task("Sending onboarding events", total=len(plan.valid))
            for chunk in _chunks(plan.valid, 500):
                await publisher.publish_many(list(chunk))
                sent += len(chunk)
                progress.update(task, advance=len(chunk))
    finally:
        await broker.stop()
    return sent


def report(plan: ImportPlan, console: Console) -> None:
    for error in plan.invalid:
        console.print(f"row {error.row}: {error.reason}", markup=False, highlight=False)
    console.print(f"{len(plan.valid)} valid row(s), {len(plan.invalid)} invalid row(s)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="profile-import", description=__doc__.split("\n\n")[0] if __doc__ else ""
    )
    parser.add_argument("csv_file", type=Path)
    parser.add_argument("--dry-run", action="store_true", help="check the rows and report; send nothing")
    args = parser.parse_args(argv)
    console = Console(stderr=True, soft_wrap=True)
    try:
        with args.csv_file.open(newline="", encoding="utf-8-sig") as handle:
            plan = plan_import(handle)
    except OSError as error:
        console.print(f"cannot read {args.csv_file}: {error}")
        return 1
    report(plan, console)
    if not args.dry_run and plan.valid:
        settings = ProfileSettings()
        try:
            sent = asyncio.run(send(plan, settings, show_progress=console.is_terminal))
        except Exception as error:  # noqa: BLE001 - one clear line instead of a traceback
            console.print(f"sending failed: {type(error).__name__}: {error}")
            return 1
        console.print(f"sent {sent} onboarding event(s) to {settings.topic(HR_EMPLOYEES.name)}")
    return 2 if plan.invalid else 0


if __name__ == "__main__":
    sys.exit(main())
