"""HR export files for import tests: many good rows with a few known bad ones."""

from __future__ import annotations

import csv
import io

HEADER = [
    "employee_id",
    "full_name",
    "work_email",
    "start_date",
    "title",
    "level",
    "team",
    "time_zone",
    "skills",
]

BAD_ROWS: dict[int, list[str]] = {
    # row number (header is row 1) -> a bad row
    50: ["B1", "No Email", "not-an-email", "2027-01-04", "", "", "data", "", ""],
    700: ["B2", "", "b2@example.com", "2027-01-04", "", "", "data", "", ""],
    1500: ["B3", "Bad Zone", "b3@example.com", "2027-01-04", "", "", "data", "Mars/Base", ""],
    2500: ["B4", "Bad Date", "b4@example.com", "04/01/2027", "", "", "data", "", ""],
    3300: ["R0000", "Repeated Id", "repeat@example.com", "2027-01-04", "", "", "data", "", ""],
    4000: ["B6", "Bad Level", "b6@example.com", "2027-01-04", "", "wizard", "data", "", ""],
    4800: ["B7", "Bad Skill", "b7@example.com", "2027-01-04", "", "", "data", "", "go:guru"],
}


def hr_export(rows: int) -> str:
    """A CSV with ``rows`` data rows; the rows named in BAD_ROWS are invalid, the others valid."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for number in range(2, rows + 2):
        if number in BAD_ROWS:
            writer.writerow(BAD_ROWS[number])
            continue
        index = number - 2
        writer.writerow(
            [
                f"R{index:04d}",
                f"Person {index}",
                f"person{index}@example.com",
                "2027-01-04",
                "Engineer",
                "mid",
                ("payments", "data", "mobile")[index % 3],
                ("Europe/Berlin", "America/New_York", "Asia/Kolkata")[index % 3],
                "python:expert;sql",
            ]
        )
    return out.getvalue()
