"""The matching service's own collections.

- ``candidates``: its projection of people, one profile snapshot per person, newest
  revision wins (built from profile events only).
- ``seats``: a mentor's capacity as claims ``<mentor>:<n>`` (``services.runtime.claims``);
  each proposal attempt owns at most one seat, so capacity holds across replicas.
- ``requests``: one per mentee, programme and form of mentorship: open, proposed,
  waitlisted, matched (circles and boards) or closed; carries the mentors declined before
  and the outbox of waitlist events.
- ``matches``: one per proposal or board seat, with its breakdown; carries the outbox of
  match events.
- ``circles`` and ``rounds``: formed circles and finished cohort rounds, with their outboxes.
- ``signals``: the counters of seats given back and capacity offered (``capacity``).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from contracts.envelope import Envelope
from contracts.profile import ProfileSnapshot
from services.matching.capacity import CapacitySignals, SeatHints
from services.runtime.claims import claim_one_of, ensure_claim_indexes, release
from services.runtime.idempotency import PROCESSED_FIELD, PROCESSED_KEEP, Outcome, upsert_if_newer
from services.runtime.mongo import Document, find_by_ids
from services.runtime.outbox import OUTBOX_FIELD, outbox_entries

# Above the largest capacity a profile accepts, so a seat count sees seats of any former capacity.
SEAT_SLOTS_SEEN = 64
LIVE_MATCH_STATES = ("proposed", "confirmed", "paused")


async def ensure_indexes(db: AsyncDatabase[Document]) -> None:
    await ensure_claim_indexes(db["seats"])
    await db["requests"].create_index([("state", 1), ("opened_at", 1)])
    await db["matches"].create_index([("mentee_id", 1)])
    await db["matches"].create_index([("state", 1), ("proposed_at", 1)])


class MatchingStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.candidates: AsyncCollection[Document] = db["candidates"]
        self.seats: AsyncCollection[Document] = db["seats"]
        self.requests: AsyncCollection[Document] = db["requests"]
        self.matches: AsyncCollection[Document] = db["matches"]
        self.rounds: AsyncCollection[Document] = db["rounds"]
        self.circles: AsyncCollection[Document] = db["circles"]
        self.signals = CapacitySignals(db["signals"])
        # This instance's seat counts between messages; see ``capacity``.
        self.hints = SeatHints(self.seats_held, self.signals)
        self._turns: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def remember(self, snapshot: ProfileSnapshot) -> bool:
        """Keep the newest snapshot of a person; True while this one is the newest we know
        (also when it is a redelivery of it, so an interrupted reaction is completed)."""
        outcome = await upsert_if_newer(
            self.candidates,
            snapshot.person_id,
            snapshot.revision,
            {"snapshot": snapshot.model_dump(mode="json")},
        )
        if outcome is Outcome.APPLIED:
            return True
        stored = await self.candidates.find_one({"_id": snapshot.person_id}, {"revision": 1})
        return stored is not None and stored["revision"] == snapshot.revision

    async def revision_of(self, person_id: str) -> int | None:
        """The revision of the newest snapshot of a person held in the store."""
        doc = await self.candidates.find_one({"_id": person_id}, {"revision": 1})
        return None if doc is None else int(doc["revision"])

    async def volunteers(self) -> list[ProfileSnapshot]:
        """Everyone who volunteered to mentor: the only people a one-to-one or external request
        can be proposed to, and usually a small part of everyone."""
        cursor = self.candidates.find({"snapshot.mentor.opted_in": True})
        return [ProfileSnapshot.model_validate(doc["snapshot"]) async for doc in cursor]

    async def revisions(self) -> dict[str, int]:
        """Everyone's newest revision: what a copy of the pool compares before reading more."""
        return {doc["_id"]: int(doc["revision"]) async for doc in self.candidates.find({}, {"revision": 1})}

    async def snapshots_of(self, person_ids: Sequence[str]) -> list[ProfileSnapshot]:
        """These people's newest snapshots, read by id."""
        docs = await find_by_ids(self.candidates, person_ids, {"snapshot": 1})
        return [ProfileSnapshot.model_validate(doc["snapshot"]) for doc in docs]

    async def open_request(
        self,
        request_id: str,
        mentee_id: str,
        programme_id: str,
        correlation_id: str,
        *,
        kind: str = "one_to_one",
        reopen_closed: bool = False,
    ) -> Document:
        """The mentee's request for this programme and form, created on first sight; it keeps
        the correlation id of the chain that opened it, so everything it leads to traces back.
        A closed request opens again (as a new attempt) only when someone asks anew."""
        now = datetime.now(UTC)
        opened = {
            "_id": request_id,
            "mentee_id": mentee_id,
            "programme_id": programme_id,
            "kind": kind,
            "state": "open",
            "attempt": 1,
            "declined": [],
            # As the store keeps it (milliseconds), so the request reads the same either way.
            "opened_at": now.replace(microsecond=now.microsecond // 1000 * 1000),
            "correlation_id": correlation_id,
            OUTBOX_FIELD: [],
        }
        try:
            await self.requests.insert_one(opened)
        except DuplicateKeyError:
            pass  # opened before: keep it as it is, and read it below
        else:
            return opened  # just written: nothing to read back
        if reopen_closed:
            await self.requests.update_one(
                {"_id": request_id, "state": "closed"},
                {
                    "$set": {
                        "state": "open",
                        "opened_at": datetime.now(UTC),
                        "correlation_id": correlation_id,
                    },
                    "$inc": {"attempt": 1},
                },
            )
        doc = await self.requests.find_one({"_id": request_id})
        assert doc is not None
        return doc

    async def request(self, request_id: str) -> Document | None:
        return await self.requests.find_one({"_id": request_id}, {OUTBOX_FIELD: 0})

    async def waitlisted(self) -> list[Document]:
        """Requests waiting for a mentor's seat, oldest first (circles wait for a round instead)."""
        query = {"state": "waitlisted", "kind": {"$ne": "peer_circle"}}
        return [doc async for doc in self.requests.find(query).sort("opened_at", 1)]

    async def seats_held(self) -> Counter[str]:
        """Seats taken per mentor, read in one pass (a hint; the claim itself decides)."""
        held: Counter[str] = Counter()
        async for doc in self.seats.find({}, {"_id": 1}):
            held[str(doc["_id"]).rsplit(":", 1)[0]] += 1
        return held

    async def seat_of(self, owner: str) -> str | None:
        """The mentor whose seat an owner holds, if any."""
        doc = await self.seats.find_one({"owner": owner}, {"_id": 1})
        return str(doc["_id"]).rsplit(":", 1)[0] if doc is not None else None

    async def release_seat_of(self, owner: str) -> str | None:
        """Give back the seat an owner holds (safe to repeat); the mentor it was with, if any."""
        doc = await self.seats.find_one({"owner": owner}, {"_id": 1})
        if doc is None:
            return None
        await self._give_back(str(doc["_id"]), owner)
        return str(doc["_id"]).rsplit(":", 1)[0]

    async def release_seats_owned_under(self, prefix: str) -> list[str]:
        """Give back every seat whose owner starts with ``prefix``; the mentors they were with."""
        mentors = []
        async for doc in self.seats.find({"owner": {"$regex": f"^{re.escape(prefix)}"}}):
            if await self._give_back(str(doc["_id"]), doc["owner"]):
                mentors.append(str(doc["_id"]).rsplit(":", 1)[0])
        return mentors

    async def _give_back(self, key: str, owner: str) -> bool:
        """Release a seat, then count the release: counted after, so that a replica which
        finds the counter unchanged also finds the seat taken (see ``capacity``). Counted
        even when the seat was gone already, as a repeat after a crash may be the first to."""
        released = await release(self.seats, key, owner)
        counted = await self.signals.advance("released")
        self.hints.gave_back(key.rsplit(":", 1)[0], counted, released=released)
        return released

    async def capacity_offered(self) -> int:
        """Count a mentor offering capacity, before the waitlist is read for them."""
        return await self.signals.advance("offered")

    async def take_seat(
        self, mentor_id: str, capacity: int, owner: str, *, trust_counts: bool = False
    ) -> bool:
        """Claim one of the mentor's seats, then count them: a mentor who lowered their capacity
        may still hold seats above it, and those count too. When the count is over, the claim
        is given back; of two replicas racing for the last seat, each counts after its own
        insert, so at worst both back off, never both stay.

        Within an instance, claims on one mentor take turns: messages handled side by side
        would otherwise race for the same free seat, and the losers meet every taken seat one
        by one. With ``trust_counts``, a mentor this instance counts as full is not tried."""
        async with self._turns[mentor_id]:
            if trust_counts and self.hints.count(mentor_id) >= capacity:
                return False
            key = await claim_one_of(
                self.seats, mentor_id, capacity, owner, first_slot=self.hints.count(mentor_id)
            )
            if key is None:
                self.hints.full(mentor_id, capacity)
                return False
            keys = [f"{mentor_id}:{slot}" for slot in range(SEAT_SLOTS_SEEN)]
            if await self.seats.count_documents({"_id": {"$in": keys}}) <= capacity:
                self.hints.took(mentor_id)
                return True
            # Another replica racing for the same last seat may have backed off because of
            # this claim: the release is counted, so its request's second look sees it.
            await self._give_back(key, owner)
            self.hints.full(mentor_id, capacity)
            return False

    async def record_proposal(self, match: Document, message: Envelope) -> list[Document]:
        """Insert the match with its outgoing event (once); returns the entries to deliver."""
        entries = outbox_entries([message])
        try:
            await self.matches.insert_one({**match, OUTBOX_FIELD: entries})
        except DuplicateKeyError:
            return []  # recorded by an earlier attempt; its outbox is delivered from the document
        return entries

    async def match(self, match_id: str) -> Document | None:
        return await self.matches.find_one({"_id": match_id}, {OUTBOX_FIELD: 0})

    async def answer(
        self, match_id: str, from_state: str, cause_id: str, fields: Document, messages: list[Envelope]
    ) -> list[Document]:
        """Record an answer on a proposal still in ``from_state``; returns entries to deliver."""
        entries = outbox_entries(messages)
        push: Document = {PROCESSED_FIELD: {"$each": [cause_id], "$slice": -PROCESSED_KEEP}}
        if entries:
            push[OUTBOX_FIELD] = {"$each": entries}
        await self.matches.update_one({"_id": match_id, "state": from_state}, {"$set": fields, "$push": push})
        return entries

    async def reopen(
        self, request_id: str, match_id: str, declined_mentor: str | None = None
    ) -> Document | None:
        """Send the request back for another mentor, once per ended or declined match; the
        request as it is now, or None when it no longer waits on this match."""
        update: Document = {"$set": {"state": "open"}, "$inc": {"attempt": 1}}
        if declined_mentor is not None:
            update["$addToSet"] = {"declined": declined_mentor}
        await self.requests.update_one({"_id": request_id, "state": "proposed", "match_id": match_id}, update)
        doc = await self.requests.find_one({"_id": request_id})
        return doc if doc is not None and doc["state"] == "open" else None

    async def offer_rematch(self, request_id: str, match_id: str, mentor_id: str) -> Document | None:
        """Look for a better fit while the current match goes on; None when already looking."""
        await self.requests.update_one(
            {"_id": request_id, "state": "proposed", "match_id": match_id, "replaces": None},
            {
                "$set": {"state": "open", "replaces": match_id},
                "$inc": {"attempt": 1},
                "$addToSet": {"declined": mentor_id},
            },
        )
        doc = await self.requests.find_one({"_id": request_id})
        if doc is None or doc["state"] != "open" or doc.get("replaces") != match_id:
            return None
        return doc

    async def keep_current_match(self, request_id: str, replaced_match_id: str) -> None:
        """The mentee turned the replacement down: the match they have stays theirs."""
        await self.requests.update_one(
            {"_id": request_id, "replaces": replaced_match_id},
            {"$set": {"state": "proposed", "match_id": replaced_match_id, "replaces": None}},
        )

    async def replaced(self, request_id: str, replaced_match_id: str) -> None:
        await self.requests.update_one(
            {"_id": request_id, "replaces": replaced_match_id}, {"$set": {"replaces": None}}
        )

    async def close_request(self, request_id: str, match_id: str) -> None:
        """The match this request led to is over and nobody asked for another."""
        await self.requests.update_one(
            {"_id": request_id, "match_id": match_id, "state": {"$in": ["proposed", "matched"]}},
            {"$set": {"state": "closed"}},
        )

    async def open_matches_of(self, person_id: str) -> list[Document]:
        """Proposed, confirmed or paused matches the person is part of, on either side."""
        query = {
            "state": {"$in": list(LIVE_MATCH_STATES)},
            "$or": [{"mentor_id": person_id}, {"mentee_id": person_id}],
        }
        return [doc async for doc in self.matches.find(query, {OUTBOX_FIELD: 0})]

    async def move_match(
        self, match_id: str, from_state: str, to_state: str, messages: list[Envelope]
    ) -> list[Document]:
        """Move a match to ``to_state`` (if still in ``from_state``), with its announcements;
        the entries to deliver, none when it had moved already."""
        entries = outbox_entries(messages)
        result = await self.matches.update_one(
            {"_id": match_id, "state": from_state},
            {"$set": {"state": to_state}, "$push": {OUTBOX_FIELD: {"$each": entries}}},
        )
        return entries if result.modified_count else []

    async def proposals_before(self, cutoff: datetime, limit: int = 500) -> list[Document]:
        """Proposals still unanswered that were made before ``cutoff``."""
        query = {"state": "proposed", "proposed_at": {"$lt": cutoff}}
        projection = {"_id": 1, "proposed_at": 1}
        return [doc async for doc in self.matches.find(query, projection).sort("proposed_at", 1).limit(limit)]

    async def record_board(self, seats: list[Document], messages: list[Envelope]) -> list[Document]:
        """Insert a board's seats as confirmed matches; the first carries the announcement."""
        entries = outbox_entries(messages)
        for index, seat in enumerate(seats):
            with contextlib.suppress(DuplicateKeyError):  # recorded by an earlier attempt
                await self.matches.insert_one({**seat, OUTBOX_FIELD: entries if index == 0 else []})
        return entries

    async def record_circle(self, circle: Document, messages: list[Envelope]) -> list[Document]:
        entries = outbox_entries(messages)
        try:
            await self.circles.insert_one({**circle, OUTBOX_FIELD: entries})
        except DuplicateKeyError:
            return []
        return entries

    async def circle_pairs(self) -> frozenset[frozenset[str]]:
        """Every pair of people who sat in a circle together."""
        pairs: set[frozenset[str]] = set()
        async for doc in self.circles.find({}, {"member_ids": 1}):
            members = doc["member_ids"]
            pairs.update(frozenset((a, b)) for i, a in enumerate(members) for b in members[i + 1 :])
        return frozenset(pairs)

    async def circles_of(self, person_id: str) -> list[Document]:
        projection = {OUTBOX_FIELD: 0}
        return [doc async for doc in self.circles.find({"member_ids": person_id}, projection).sort("_id", 1)]

    async def close_requests_of(self, mentee_id: str) -> None:
        """A mentee who left needs no mentor any more."""
        await self.requests.update_many(
            {"mentee_id": mentee_id, "state": {"$ne": "closed"}}, {"$set": {"state": "closed"}}
        )

    async def matches_of(self, person_id: str) -> list[Document]:
        query = {"$or": [{"mentor_id": person_id}, {"mentee_id": person_id}]}
        projection = {OUTBOX_FIELD: 0, PROCESSED_FIELD: 0, "seat_owner": 0}
        return [doc async for doc in self.matches.find(query, projection).sort("_id", 1)]

    async def waitlist_sizes(self) -> dict[str, int]:
        sizes: dict[str, int] = {}
        async for doc in self.requests.find({"state": "waitlisted"}, {"programme_id": 1}):
            sizes[doc["programme_id"]] = sizes.get(doc["programme_id"], 0) + 1
        return sizes

    async def snapshot_of(self, person_id: str) -> ProfileSnapshot | None:
        doc = await self.candidates.find_one({"_id": person_id})
        return ProfileSnapshot.model_validate(doc["snapshot"]) if doc else None

    async def waiting_for(self, programme_id: str, kind: str) -> list[Document]:
        """Requests of a programme and form still without a proposal, oldest first."""
        query = {"programme_id": programme_id, "kind": kind, "state": {"$in": ["open", "waitlisted"]}}
        return [doc async for doc in self.requests.find(query).sort("opened_at", 1)]

    async def round_done(self, round_id: str) -> bool:
        return await self.rounds.count_documents({"_id": round_id}, limit=1) > 0

    async def finish_round(self, round_id: str, messages: list[Envelope]) -> list[Document]:
        entries = outbox_entries(messages)
        with contextlib.suppress(DuplicateKeyError):  # a redelivered round finished already
            await self.rounds.insert_one(
                {"_id": round_id, "finished_at": datetime.now(UTC), OUTBOX_FIELD: entries}
            )
            return entries
        return []

    async def mark_request(
        self, request_id: str, state: str, messages: list[Envelope], **fields: Any
    ) -> list[Document]:
        """Move a request to ``state``, with events to send; returns the entries to deliver."""
        entries = outbox_entries(messages)
        update: Document = {"$set": {"state": state, **fields}}
        if entries:
            update["$push"] = {OUTBOX_FIELD: {"$each": entries}}
        await self.requests.update_one({"_id": request_id}, update)
        return entries
