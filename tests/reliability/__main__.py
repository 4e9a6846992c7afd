"""`make reliability`: the whole platform under load on its own stack, with faults.

    python -m tests.reliability [--mentees N] [--burst-seconds S] [--faults crash-matching,broker,...]

Prints a table (fault, events in flight, lost, doubled, recovered in seconds) and exits 1
when anything was lost or doubled, or the platform did not catch up.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from tests.reliability.faults import FAULTS
from tests.reliability.report import table
from tests.reliability.run import Suite, SuiteOptions, run_suite


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="reliability", description=__doc__.split("\n\n")[0] if __doc__ else ""
    )
    parser.add_argument("--mentees", type=int, default=SuiteOptions.mentees, help="new hires per burst")
    parser.add_argument("--burst-seconds", type=float, default=SuiteOptions.burst_seconds)
    parser.add_argument("--down-seconds", type=float, default=SuiteOptions.down_seconds)
    parser.add_argument(
        "--faults", default=",".join(FAULTS), help=f"comma-separated, of: {', '.join(FAULTS)}"
    )
    parser.add_argument("--builds-from", type=Path, help="a stack's build directory to copy the servers from")
    args = parser.parse_args(argv)
    faults = tuple(f for f in args.faults.split(",") if f)
    unknown = [f for f in faults if f not in FAULTS]
    if unknown:
        parser.error(f"unknown fault(s): {', '.join(unknown)}")
    options = SuiteOptions(
        mentees=args.mentees,
        burst_seconds=args.burst_seconds,
        down_seconds=args.down_seconds,
        faults=faults,
        builds_from=args.builds_from,
    )
    began = time.monotonic()
    rows = run_suite(Suite(options, say=lambda line: print(line, flush=True)))
    print(table(rows))
    print(f"took {time.monotonic() - began:.0f}s")
    return 0 if rows and all(row.passed for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
