"""A stack of the suite's own (Kafka, FerretDB, Mailpit on other ports and another home), so
restarting the broker or the database never disturbs the shared stack others work against.

The servers' builds are copied from an existing stack's home when one is there (no Maven or Go
run); otherwise provisioning builds them as ``make stack-up`` would.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from deploy.local import stack
from tests.support.infrastructure import Infrastructure

HOME = stack.ROOT / ".stack-reliability"
# Builds are only read from these; a fingerprint that differs makes provisioning build anew.
BUILD_MARKERS = ("kafka.fingerprint", "ferretdb.fingerprint", "mailpit.fingerprint")


def settings(home: Path = HOME) -> stack.StackSettings:
    return stack.StackSettings(
        mode="local",
        home=home,
        kafka_port=19092,
        kafka_controller_port=19093,
        mongo_port=27027,
        smtp_port=1035,
        mailpit_http_port=8035,
    )


def _copy_builds(source: Path, target: Path) -> None:
    if target.exists() or not all((source / marker).exists() for marker in BUILD_MARKERS):
        return
    shutil.copytree(source, target, symlinks=True)


def infrastructure(s: stack.StackSettings) -> Infrastructure:
    return Infrastructure(
        kafka_bootstrap=f"{s.host}:{s.kafka_port}",
        mongo_url=f"mongodb://{s.host}:{s.mongo_port}/",
        smtp_host=s.host,
        smtp_port=s.smtp_port,
        mailpit_api=f"http://{s.host}:{s.mailpit_http_port}",
        origin=f"the reliability suite's own stack ({s.home})",
    )


@contextmanager
def own_stack(builds_from: Path | None = None, home: Path = HOME) -> Iterator[stack.StackSettings]:
    """Start the suite's stack with empty data (every run starts clean), stop it at the end.

    Builds come from ``builds_from``, else ``RELIABILITY_BUILDS_FROM``, else the default stack's home."""
    s = settings(home)
    builds_from = builds_from or Path(os.environ.get("RELIABILITY_BUILDS_FROM", stack.StackSettings().build))
    stack.down(s)  # a run cut short leaves its servers behind: stop exactly those
    shutil.rmtree(s.data, ignore_errors=True)
    _copy_builds(builds_from, s.build)
    try:
        stack.up(s)
        yield s
    finally:
        stack.down(s)
