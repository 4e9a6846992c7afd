"""The reliability suite's short form (``make reliability`` runs the full one): a small burst
through the whole platform on a stack of the suite's own, the matching service killed with
SIGKILL and the database restarted mid-burst, then nothing lost and nothing doubled, read
from the stores, Mailpit and the chat receiver."""

from __future__ import annotations

from pathlib import Path

from tests.reliability.report import table
from tests.reliability.run import Suite, SuiteOptions, run_suite

SHORT_FAULTS = ("crash-matching", "database")


def test_a_burst_through_a_killed_matching_service_and_a_restarted_database_loses_and_doubles_nothing(
    tmp_path: Path,
) -> None:
    options = SuiteOptions(
        mentees=10,
        burst_seconds=6,
        faults=SHORT_FAULTS,
        down_seconds=2,
        catch_up_timeout=150,
        home=tmp_path / "stack",
        logs=tmp_path / "services",
    )
    rows = run_suite(Suite(options, say=lambda line: None))
    assert [row.fault for row in rows] == ["kill -9 matching", "FerretDB restart"]
    assert all(row.passed for row in rows), table(rows)
    struck_in_flight = all(row.in_flight > 0 for row in rows)
    assert struck_in_flight, f"each fault hit the burst while it was in flight:\n{table(rows)}"
