"""The matching service's own collections.

- ``candidates``: its projection of people, one profile snapshot per person, newest
  revision wins (built from profile events only).
- ``seats``: a mentor's capacity as claims ``<mentor>:<n>`` (``services.runtime.claims``);
  each proposal attempt owns at most one seat, so capacity holds across replicas.
- ``requests``: one per mentee and programme: open, proposed or waitlisted; carries the
  pairs declined before and the outbox of waitlist events.
- ``matches``: one per proposal, with its breakdown; carries the outbox of match events.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from contracts.envelope import Envelope
from contracts.profile import ProfileSnapshot
from services.runtime.claims import claim_one_of, ensure_claim_indexes, release
from services.runtime.idempotency import PROCESSED_FIELD, PROCESSED_KEEP, Outcome, upsert_if_newer
from services.runtime.mongo import Document
from services.runtime.outbox import OUTBOX_FIELD, outbox_entries


async def ensure_indexes(db: AsyncDatabase[Document]) -> None:
    await ensure_claim_indexes(db["seats"])
    await db["requests"].create_index([("state", 1), ("opened_at", 1)])
    await db["matches"].create_index([("mentee_id", 1)])


class MatchingStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.candidates: AsyncCollection[Document] = db["candidates"]
        self.seats: AsyncCollection[Document] = db["seats"]
        self.requests: AsyncCollection[Document] = db["requests"]
        self.matches: AsyncCollection[Document] = db["matches"]
        self.rounds: AsyncCollection[Document] = db["rounds"]

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

    async def pool(self) -> list[ProfileSnapshot]:
        return [ProfileSnapshot.model_validate(doc["snapshot"]) async for doc in self.candidates.find({})]

    async def open_request(
        self, request_id: str, mentee_id: str, programme_id: str, correlation_id: str
    ) -> Document:
        """The mentee's request for this programme, created on first sight; it keeps the
        correlation id of the chain that opened it, so everything it leads to traces back."""
        with contextlib.suppress(DuplicateKeyError):  # opened before: keep it as it is
            await self.requests.insert_one(
                {
                    "_id": request_id,
                    "mentee_id": mentee_id,
                    "programme_id": programme_id,
                    "state": "open",
                    "attempt": 1,
                    "declined": [],
                    "opened_at": datetime.now(UTC),
                    "correlation_id": correlation_id,
                    OUTBOX_FIELD: [],
                }
            )
        doc = await self.requests.find_one({"_id": request_id})
        assert doc is not None
        return doc

    async def waitlisted(self) -> list[Document]:
        return [doc async for doc in self.requests.find({"state": "waitlisted"}).sort("opened_at", 1)]

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
        await release(self.seats, str(doc["_id"]), owner)
        return str(doc["_id"]).rsplit(":", 1)[0]

    async def take_seat(self, mentor_id: str, capacity: int, owner: str) -> bool:
        return await claim_one_of(self.seats, mentor_id, capacity, owner) is not None

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

    async def reopen_after_decline(self, request_id: str, match_id: str, mentor_id: str) -> Document | None:
        """Send the request back for another mentor, once per declined match; the request as it
        is now, or None when it no longer waits on this match."""
        await self.requests.update_one(
            {"_id": request_id, "state": "proposed", "match_id": match_id},
            {"$set": {"state": "open"}, "$inc": {"attempt": 1}, "$addToSet": {"declined": mentor_id}},
        )
        doc = await self.requests.find_one({"_id": request_id})
        return doc if doc is not None and doc["state"] == "open" else None

    async def open_matches_of(self, person_id: str) -> list[Document]:
        """Proposed or confirmed matches the person is part of, on either side."""
        query = {
            "state": {"$in": ["proposed", "confirmed"]},
            "$or": [{"mentor_id": person_id}, {"mentee_id": person_id}],
        }
        return [doc async for doc in self.matches.find(query, {OUTBOX_FIELD: 0})]

    async def end_match(self, match_id: str, from_state: str, messages: list[Envelope]) -> list[Document]:
        """Mark a match ended (if still in ``from_state``), with its announcement."""
        entries = outbox_entries(messages)
        result = await self.matches.update_one(
            {"_id": match_id, "state": from_state},
            {"$set": {"state": "ended"}, "$push": {OUTBOX_FIELD: {"$each": entries}}},
        )
        return entries if result.modified_count else []

    async def reopen_after_end(self, request_id: str, match_id: str) -> Document | None:
        """After a mentor left, the mentee's request looks for another mentor (once)."""
        await self.requests.update_one(
            {"_id": request_id, "state": "proposed", "match_id": match_id},
            {"$set": {"state": "open"}, "$inc": {"attempt": 1}},
        )
        doc = await self.requests.find_one({"_id": request_id})
        return doc if doc is not None and doc["state"] == "open" else None

    async def close_requests_of(self, mentee_id: str) -> None:
        """A mentee who left needs no mentor any more."""
        await self.requests.update_many({"mentee_id": mentee_id}, {"$set": {"state": "closed"}})

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

    async def waiting_for(self, programme_id: str) -> list[Document]:
        """Requests of a programme still without a proposal, oldest first."""
        query = {"programme_id": programme_id, "state": {"$in": ["open", "waitlisted"]}}
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
