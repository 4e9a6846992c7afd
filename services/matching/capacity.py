"""Free capacity as an instance sees it between messages, and when that view must be read again.

Reading every seat for each message cost O(seats) per proposal: a scan of the seats on every
new hire. An instance keeps the count of seats held per mentor in memory instead, and the
store keeps two counters every replica advances (``CapacityEpoch``): seats given back, and
mentors offering capacity. Reading them is one document by ``_id``:

- the seat counts are read again only when some replica gave a seat back since they were
  counted; seats taken elsewhere meanwhile only make the count low, and a claim that finds
  a mentor full says so (the claims themselves enforce capacity, never these counts);
- a request that found no seat goes on the waitlist, and then looks once more only when
  capacity may have grown since the view it was ranked with was complete. Whoever grows it
  advances a counter *before* reading the waitlist, so either that replica finds the
  request waiting, or the request's second look finds the counter moved.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from services.runtime.mongo import Document

_DOCUMENT = "capacity"
Counted = Literal["released", "offered"]


@dataclass(frozen=True)
class CapacityEpoch:
    """How often, anywhere, a seat was given back and a mentor offered capacity. A view read
    after these were read includes every change they count."""

    released: int = 0
    offered: int = 0


class CapacitySignals:
    """The two counters, one document every replica advances atomically."""

    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self.collection = collection

    async def read(self) -> CapacityEpoch:
        doc = await self.collection.find_one({"_id": _DOCUMENT})
        if doc is None:
            return CapacityEpoch()
        return CapacityEpoch(released=int(doc.get("released", 0)), offered=int(doc.get("offered", 0)))

    async def advance(self, counted: Counted) -> int:
        """Count one more change; the counter's new value."""
        for _ in range(2):
            # Two replicas creating the document at once: one insert wins, the other's
            # upsert fails on the key and, tried again, increments the document that won.
            with contextlib.suppress(DuplicateKeyError):
                doc = await self.collection.find_one_and_update(
                    {"_id": _DOCUMENT},
                    {"$inc": {counted: 1}},
                    upsert=True,
                    return_document=ReturnDocument.AFTER,
                )
                if doc is not None:  # an upsert returns the document it wrote
                    return int(doc[counted])
        raise RuntimeError("the capacity counters could not be advanced")


class SeatHints:
    """Seats held per mentor, counted from the store when someone gave one back, kept
    current with this instance's own claims in between (a hint: claims decide)."""

    def __init__(self, count: Callable[[], Awaitable[Counter[str]]], signals: CapacitySignals) -> None:
        self._count = count
        self._signals = signals
        self._held: Counter[str] | None = None
        self._as_of = -1  # the ``released`` counter the counts include
        self._lock = asyncio.Lock()

    async def held(self, *, fresh: bool = False) -> tuple[Counter[str], CapacityEpoch]:
        """A copy of the counts (the caller may adjust it), and the epoch they are current for."""
        epoch = await self._signals.read()
        if fresh or self._held is None or epoch.released != self._as_of:
            async with self._lock:
                epoch = await self._signals.read()
                if fresh or self._held is None or epoch.released != self._as_of:
                    self._held = await self._count()
                    self._as_of = epoch.released
        return Counter(self._held), epoch

    def count(self, mentor_id: str) -> int:
        """Seats the mentor holds as far as this instance knows (0 before the first count)."""
        return self._held[mentor_id] if self._held is not None else 0

    def took(self, mentor_id: str) -> None:
        if self._held is not None:
            self._held[mentor_id] += 1

    def full(self, mentor_id: str, capacity: int) -> None:
        """A claim found the mentor full: taken meanwhile through another replica."""
        if self._held is not None:
            self._held[mentor_id] = max(self._held[mentor_id], capacity)

    def gave_back(self, mentor_id: str, counted: int, *, released: bool) -> None:
        """This instance gave a seat back (``released``: it still held it), and the counter
        went to ``counted``. When that is the only release since the seats were counted, the
        counts stay current; otherwise the next read counts again."""
        if self._held is None:
            return
        if released:
            self._held[mentor_id] = max(0, self._held[mentor_id] - 1)
        if counted == self._as_of + 1:
            self._as_of = counted
