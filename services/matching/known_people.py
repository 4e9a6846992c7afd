"""Everyone matching knows, kept in memory between messages.

Reading every candidate from the store for each message made a proposal cost one read of the
whole pool: O(people) per new hire and O(people²) for a roll-out, which the platform benchmark
named as the platform's bottleneck. An instance keeps the pool in memory instead:

- the snapshots this instance remembers (its partitions of the profile topic) are applied at
  once, so a new hire is always known to the instance that handles their profile event;
- what other replicas remember reaches this one with the next reload, at most ``max_age``
  seconds later, and never more often than a quarter of the time a reload takes, so a large
  pool costs a bounded share of the instance's time. A reload lists everyone's revision and
  reads (and validates) the snapshots of only those whose revision moved: reading and
  validating every snapshot was most of a reload's time;
- a stale entry never decides anything on its own: before a seat is taken, the chosen mentor's
  revision is compared with the store's (``Matcher._seat_best``) and a changed mentor makes the
  proposal start again from a fresh pool. Capacity itself is enforced by the seat claims.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import date
from typing import Protocol

from contracts.profile import ProfileSnapshot
from services.matching.candidates import Candidate, candidate_from


class PeopleSource(Protocol):
    """Where a reload reads everyone from (the store)."""

    async def revisions(self) -> dict[str, int]:
        """Everyone's newest revision, by person id."""
        ...

    async def snapshots_of(self, person_ids: Sequence[str]) -> list[ProfileSnapshot]:
        """The newest snapshots of these people."""
        ...


# The store's count of mentors who offered capacity (``capacity.CapacityEpoch.offered``).
Offered = Callable[[], Awaitable[int]]

# A reload may take at most this share of an instance's time.
_LOAD_SHARE = 0.25


class KnownPeople:
    def __init__(
        self,
        source: PeopleSource,
        max_age: float,
        clock: Callable[[], float] = time.monotonic,
        offered: Offered | None = None,
    ) -> None:
        self._source = source
        self._offered = offered
        # The count of capacity offers this copy knows every mentor for (None: not known).
        self.mentors_as_of: int | None = None
        self.max_age = max_age
        self._clock = clock
        self._snapshots: dict[str, ProfileSnapshot] = {}
        self._candidates: dict[str, Candidate] = {}
        self._today: date | None = None
        self._loaded_at: float | None = None
        self._load_seconds = 0.0
        self._lock = asyncio.Lock()

    @property
    def snapshots(self) -> dict[str, ProfileSnapshot]:
        return self._snapshots

    def candidates(self, today: date) -> dict[str, Candidate]:
        """Matching's features of everyone, for the week after ``today`` (features depend on
        the date: recomputed for everyone when it changes, otherwise only for new snapshots)."""
        if today != self._today:
            self._candidates = {pid: candidate_from(s, today) for pid, s in self._snapshots.items()}
            self._today = today
        return self._candidates

    async def current(self, *, fresh: bool = False) -> dict[str, ProfileSnapshot]:
        """Everyone, reloaded first when asked for ``fresh`` or when the copy is too old."""
        if fresh or self._stale():
            async with self._lock:
                # Another message may have reloaded while this one waited for the lock.
                if fresh or self._stale():
                    await self._reload()
        return self._snapshots

    def note(self, snapshot: ProfileSnapshot) -> None:
        """A snapshot this instance just remembered; an older one than known is ignored."""
        known = self._snapshots.get(snapshot.person_id)
        if known is not None and known.revision > snapshot.revision:
            return
        self._snapshots[snapshot.person_id] = snapshot
        if self._today is not None:
            self._candidates[snapshot.person_id] = candidate_from(snapshot, self._today)

    def merge(self, snapshots: list[ProfileSnapshot], *, mentors_as_of: int | None = None) -> None:
        """Some people read from the store (a partial read): each newer one replaces its entry.
        ``mentors_as_of``: the read held every mentor, as of that count of capacity offers."""
        for snapshot in snapshots:
            self.note(snapshot)
        if mentors_as_of is not None:
            self._knows_mentors_as_of(mentors_as_of)

    def offered_here(self, counted: int) -> None:
        """A mentor noted here offered capacity, and the count went to ``counted``: when no
        offer elsewhere came in between, this copy still knows every mentor."""
        if self.mentors_as_of is not None and counted == self.mentors_as_of + 1:
            self.mentors_as_of = counted

    def _knows_mentors_as_of(self, counted: int) -> None:
        # Newest known snapshots are kept whatever the order of reads, so the copy is as
        # complete as the latest of them.
        if self.mentors_as_of is None or counted > self.mentors_as_of:
            self.mentors_as_of = counted

    def _stale(self) -> bool:
        if self._loaded_at is None:
            return True
        return self._clock() - self._loaded_at > max(self.max_age, self._load_seconds / _LOAD_SHARE)

    async def _reload(self) -> None:
        started = self._clock()
        offered = await self._offered() if self._offered is not None else None
        revisions = await self._source.revisions()
        moved = [
            person_id
            for person_id, revision in revisions.items()
            if (known := self._snapshots.get(person_id)) is None or known.revision < revision
        ]
        # ``note`` keeps whichever is newer: a snapshot noted while the read ran may be newer
        # than the one read. Unchanged people keep their objects and the features built for them.
        for snapshot in await self._source.snapshots_of(moved) if moved else []:
            self.note(snapshot)
        if offered is not None:
            self._knows_mentors_as_of(offered)
        self._loaded_at = self._clock()
        self._load_seconds = self._loaded_at - started
