"""A message the provider accepted is recorded as sent even when the database drops the
connection for a moment; a database that stays away is reported, not waited on for ever."""

from __future__ import annotations

from typing import Any

import pytest
from pymongo.errors import AutoReconnect

from services.notification.store import DeliveryLog


class FlakyCollection:
    """Refuses the first ``failures`` updates as a restarting server would, then applies them."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.applied: list[tuple[dict[str, Any], dict[str, Any]]] = []

    async def update_one(self, query: dict[str, Any], change: dict[str, Any]) -> None:
        if self.failures:
            self.failures -= 1
            raise AutoReconnect("connection closed")
        self.applied.append((query, change))


def log_with(deliveries: FlakyCollection) -> DeliveryLog:
    log = DeliveryLog.__new__(DeliveryLog)
    log.deliveries = deliveries  # type: ignore[assignment]
    return log


async def test_a_delivered_message_is_confirmed_once_the_database_answers_again() -> None:
    deliveries = FlakyCollection(failures=2)

    await log_with(deliveries).confirm("n1", {"state": "sent"}, [{"event": 1}], patience=10)

    assert deliveries.applied == [
        ({"_id": "n1"}, {"$set": {"state": "sent"}, "$push": {"_outbox": {"$each": [{"event": 1}]}}})
    ]


async def test_a_database_away_longer_than_the_patience_is_an_error() -> None:
    deliveries = FlakyCollection(failures=1_000)

    with pytest.raises(AutoReconnect):
        await log_with(deliveries).confirm("n1", {"state": "sent"}, patience=0.5)

    assert deliveries.applied == []
