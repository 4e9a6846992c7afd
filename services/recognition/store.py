"""The recognition service's collections.

- ``sources``: one document per source of points (a session, an office-hours slot, a group
  session): the newest revision seen, what it holds granted, its own state (bookings, seats)
  and the outbox of the ``points_awarded`` events that change it.
- ``ledger``: the append-only points ledger, one document per entry under its deterministic
  id; ``applied`` says the entry has been folded into its person's standings.
- ``standings_<period>`` (``standings_2026_11``, ``standings_2026_q4``, ``standings_all``):
  one small document per person and period with net totals, per programme too; the all-time
  one also lists badges. Only the consumer of ``points_awarded`` (keyed by person) writes
  them, one entry at a time, so increments never race (FerretDB's updates are not atomic
  under concurrency). Each records the ids of the last entries it added (``_applied``).
- ``badges``: one document per (person, badge), inserted under that unique key: a badge is
  awarded once however many replicas see its criteria met; it holds the award's outbox.
- ``kudos``: one per kudos id, with its outbox.
- ``people``: team, manager and status from profile events; ``matches``: reverse matches.
- ``leaderboards``: rebuilt top lists per period and scope, the lines as one JSON text (a
  Mongo-wire server converts every value of a document on each read and write, so one
  string is far cheaper than a hundred sub-documents); ``dirty``: periods to rebuild.
- ``digests``: one per digest id (unique: emitted once across replicas), with its outbox.
"""

from __future__ import annotations

from datetime import datetime

from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from contracts.envelope import Envelope
from contracts.recognition import PointsReason
from services.recognition.ledger import Entry
from services.recognition.standings import ALL_TIME, collection_of
from services.runtime.mongo import Document, aware
from services.runtime.outbox import OUTBOX_FIELD, outbox_entries

OUTBOX_COLLECTIONS = ("sources", "badges", "kudos", "digests")
APPLIED_FIELD = "_applied"
DIRTY = "periods"
# Entries of one person are folded in order, one at a time, and each offset is committed
# after its entry: a redelivery repeats at most the few entries in flight at a crash.
APPLIED_KEEP = 32


async def ensure_indexes(db: AsyncDatabase[Document]) -> None:
    await db["ledger"].create_index([("person_id", 1), ("earned_at", 1)])
    await db["badges"].create_index([("person_id", 1)])
    await db["kudos"].create_index([("to_id", 1), ("at", -1)])
    await db["people"].create_index([("team", 1)])


def entry_document(entry: Entry) -> Document:
    return {
        "entry_id": entry.entry_id,
        "person_id": entry.person_id,
        "reason": entry.reason.value,
        "points": entry.points,
        "earned_at": entry.earned_at,
        "programme_id": entry.programme_id,
        "ratings": list(entry.ratings),
        "reverses": entry.reverses,
    }


def entry_from(doc: Document) -> Entry:
    return Entry(
        entry_id=doc["entry_id"],
        person_id=doc["person_id"],
        reason=PointsReason(doc["reason"]),
        points=doc["points"],
        earned_at=aware(doc["earned_at"]),
        programme_id=doc.get("programme_id"),
        ratings=tuple(doc.get("ratings") or ()),
        reverses=doc.get("reverses"),
    )


class RecognitionStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.db = db
        self.sources: AsyncCollection[Document] = db["sources"]
        self.ledger: AsyncCollection[Document] = db["ledger"]
        self.badges: AsyncCollection[Document] = db["badges"]
        self.kudos: AsyncCollection[Document] = db["kudos"]
        self.people: AsyncCollection[Document] = db["people"]
        self.matches: AsyncCollection[Document] = db["matches"]
        self.leaderboards: AsyncCollection[Document] = db["leaderboards"]
        self.dirty: AsyncCollection[Document] = db["dirty"]
        self.digests: AsyncCollection[Document] = db["digests"]

    # ------------------------------------------------------------------ sources

    async def source(self, source_id: str) -> Document | None:
        return await self.sources.find_one({"_id": source_id}, {OUTBOX_FIELD: 0})

    async def settle_source(
        self, source_id: str, fields: Document, granted: list[Entry], messages: list[Envelope]
    ) -> list[Document]:
        """Record a source's new state and grants with the events that announce the change, in
        one write; the outbox entries to send.

        Only the consumer of the source's partition writes it, so a plain update suffices;
        were two replicas to overlap during a rebalance, they would write the same plan.
        """
        entries = outbox_entries(messages)
        update: Document = {"$set": {**fields, "granted": [entry_document(e) for e in granted]}}
        if entries:
            update["$push"] = {OUTBOX_FIELD: {"$each": entries}}
        await self.sources.update_one({"_id": source_id}, update, upsert=True)
        return entries

    # ------------------------------------------------------------------ ledger

    async def append(self, entry: Entry, source_event_id: str) -> Document | None:
        """Append an entry once; the stored one when it was there already."""
        try:
            await self.ledger.insert_one(
                {
                    "_id": entry.entry_id,
                    **entry_document(entry),
                    "source_event_id": source_event_id,
                    "applied": False,
                }
            )
        except DuplicateKeyError:
            return await self.ledger.find_one({"_id": entry.entry_id})
        return None

    async def entry(self, entry_id: str) -> Entry | None:
        doc = await self.ledger.find_one({"_id": entry_id})
        return entry_from(doc) if doc else None

    async def mark_applied(self, entry_id: str) -> None:
        await self.ledger.update_one({"_id": entry_id}, {"$set": {"applied": True}})

    # ------------------------------------------------------------------ badges and digests

    async def insert_once(
        self, collection: AsyncCollection[Document], doc: Document, messages: list[Envelope]
    ) -> list[Document]:
        """Insert a document under its unique id with its outbox; no entries when it existed."""
        entries = outbox_entries(messages)
        try:
            await collection.insert_one({**doc, OUTBOX_FIELD: entries})
        except DuplicateKeyError:
            return []
        return entries

    async def mark_dirty(self, periods: list[str], at: datetime) -> None:
        """Note that these periods' boards need rebuilding: one write for all of them."""
        await self.dirty.update_one({"_id": DIRTY}, {"$set": dict.fromkeys(periods, at)}, upsert=True)

    async def dirty_periods(self) -> dict[str, datetime]:
        doc = await self.dirty.find_one({"_id": DIRTY}) or {}
        return {k: v for k, v in doc.items() if k != "_id"}

    async def clean(self, period: str, seen: datetime) -> None:
        """Clear a period's mark, unless it was set again after ``seen`` (then it stays)."""
        await self.dirty.update_one({"_id": DIRTY, period: seen}, {"$unset": {period: ""}})

    async def teams(self) -> dict[str, str]:
        """Each known person's current team."""
        found: dict[str, str] = {}
        async for doc in self.people.find({"team": {"$ne": None}}, {"team": 1}):
            found[doc["_id"]] = doc["team"]
        return found

    def standings(self, period: str = ALL_TIME) -> AsyncCollection[Document]:
        return self.db[collection_of(period)]

    async def add_to_standings(
        self, period: str, person_id: str, entry_id: str, inc: Document
    ) -> Document | None:
        """Add one entry to a person's standings of one period unless it was added already;
        the document as it is now, or None when it held the entry already."""
        try:
            return await self.standings(period).find_one_and_update(
                {"_id": person_id, APPLIED_FIELD: {"$ne": entry_id}},
                {"$inc": inc, "$push": {APPLIED_FIELD: {"$each": [entry_id], "$slice": -APPLIED_KEEP}}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:
            # The upsert found no document without the entry, yet the person's is there: it
            # holds the entry already.
            return None

    async def period_standings(self, period: str) -> list[Document]:
        return [doc async for doc in self.standings(period).find({}, {APPLIED_FIELD: 0})]
