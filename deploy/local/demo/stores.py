"""What each service's own database holds, counted the way the published events count it.

The one-shot demo ends by comparing these with what it saw on the topics: a difference means
an event was lost, doubled, or never sent for a state change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pymongo import AsyncMongoClient

from deploy.local.demo.tally import Tally

Document = dict[str, Any]


@dataclass(frozen=True)
class Check:
    """One line of the summary: a count from the events beside the same count from a store."""

    what: str
    service: str
    collection: str
    counts: Callable[[Document], bool]
    from_events: Callable[[Tally], int]


def _events(*kinds: str) -> Callable[[Tally], int]:
    return lambda tally: sum(tally.count(kind) for kind in kinds)


def _subjects(kind: str) -> Callable[[Tally], int]:
    return lambda tally: len(tally.subjects.get(kind, ()))


def _notifications(outcome: str) -> Callable[[Tally], int]:
    return lambda tally: sum(len(ids) for (_, o), ids in tally.notifications.items() if o == outcome)


CHECKS: tuple[Check, ...] = (
    Check(
        "people profiled",
        "profile",
        "profiles",
        lambda d: bool(d.get("snapshot")),
        _events("profile.created"),
    ),
    Check(
        "mentorships proposed",
        "matching",
        "matches",
        lambda d: d.get("kind") != "advisory_board",
        _events("matching.match_proposed"),
    ),
    Check(
        "advisory board seats",
        "matching",
        "matches",
        lambda d: d.get("kind") == "advisory_board",
        lambda tally: tally.board_seats,
    ),
    Check("peer circles formed", "matching", "circles", lambda d: True, _events("matching.circle_formed")),
    Check(
        "sessions scheduled",
        "scheduling",
        "sessions",
        lambda d: True,
        _events("scheduling.session_scheduled"),
    ),
    Check(
        "sessions completed",
        "scheduling",
        "sessions",
        lambda d: d.get("state") == "completed",
        _subjects("scheduling.session_completed"),
    ),
    Check(
        "notifications delivered",
        "notification",
        "deliveries",
        lambda d: d.get("state") == "sent",
        _notifications("delivered"),
    ),
    Check(
        "notifications failed",
        "notification",
        "deliveries",
        lambda d: d.get("state") == "failed",
        _notifications("failed"),
    ),
    Check("points entries", "recognition", "ledger", lambda d: True, _events("recognition.points_awarded")),
    Check("badges", "recognition", "badges", lambda d: True, _events("recognition.badge_awarded")),
)


@dataclass(frozen=True)
class Line:
    what: str
    events: int
    stored: int

    @property
    def agrees(self) -> bool:
        return self.events == self.stored


async def compare(tally: Tally, mongo_url: str, database: Callable[[str], str]) -> list[Line]:
    """Each check's event count beside its store count (reads a few hundred small documents)."""
    client: AsyncMongoClient[Document] = AsyncMongoClient(mongo_url)
    try:
        lines = []
        for check in CHECKS:
            collection = client[database(check.service)][check.collection]
            stored = 0
            async for doc in collection.find({}, projection={"snapshot": 1, "kind": 1, "state": 1}):
                stored += check.counts(doc)
            lines.append(Line(check.what, check.from_events(tally), stored))
        return lines
    finally:
        await client.close()
