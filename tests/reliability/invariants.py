"""What must hold after any fault, read only from the services' stores and the platform's
outputs (topics, Mailpit's inbox, the chat receiver), never from logs.

Each finding is a short line naming what and whom; a finding is either *lost* (something that
should exist does not) or *doubled* (something exists twice, or more than it may).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import httpx
from pymongo import AsyncMongoClient

from contracts.catalogue import MATCHING_EVENTS, PROFILE_EVENTS, RECOGNITION_EVENTS, decode
from deploy.local.chat_receiver import ChatReceiver
from deploy.local.demo.run import DemoOptions
from services.notification.delivery import notification_id
from services.notification.notices import notices_for
from services.runtime.mongo import Document
from tests.reliability.burst import Population
from tests.reliability.progress import dead_letters
from tests.support.infrastructure import Infrastructure
from tests.support.kafka import Record, read_all

LIVE_MATCH_STATES = ("proposed", "confirmed", "paused")
MAILPIT_PAGE = 1000


@dataclass
class Findings:
    lost: set[str] = field(default_factory=set)
    doubled: set[str] = field(default_factory=set)

    @property
    def clean(self) -> bool:
        return not self.lost and not self.doubled


def _count(findings: Findings, what: str, seen: int, expected: int = 1) -> None:
    if seen < expected:
        findings.lost.add(f"{what}: {seen} of {expected}")
    elif seen > expected:
        findings.doubled.add(f"{what}: {seen}, expected {expected}")


def _distinct(records: list[Record]) -> list[dict[str, Any]]:
    """Events once per id: a re-sent event (same id) is a redelivery, not a second effect."""
    seen: dict[str, dict[str, Any]] = {}
    for record in records:
        event = json.loads(record.value or b"{}")
        seen.setdefault(str(event.get("event_id")), event)
    return list(seen.values())


@dataclass
class Check:
    population: Population
    options: DemoOptions
    infra: Infrastructure
    receiver: ChatReceiver

    async def _events(self, topic: str) -> list[dict[str, Any]]:
        return _distinct(await read_all(self.infra.kafka_bootstrap, self.options.topic(topic)))

    async def run(self) -> Findings:
        findings = Findings()
        client: AsyncMongoClient[Document] = AsyncMongoClient(
            self.infra.mongo_url, serverSelectionTimeoutMS=3000
        )
        try:
            await self._profiles(findings, client)
            await self._matches(findings, client)
            await self._recognition(findings, client)
        finally:
            await client.close()
        await self._notifications(findings)
        await self._dead_letters(findings)
        return findings

    async def _profiles(self, findings: Findings, client: AsyncMongoClient[Document]) -> None:
        """Everyone profiled, once."""
        stored = {
            d["_id"] async for d in client[self.options.database("profile")]["profiles"].find({}, {"_id": 1})
        }
        created = Counter(
            e["subject"] for e in await self._events(PROFILE_EVENTS.name) if e["type"] == "profile.created"
        )
        for person in self.population.channels:
            if person not in stored:
                findings.lost.add(f"profile of {person} not stored")
            _count(findings, f"profile.created for {person}", created[person])

    async def _matches(self, findings: Findings, client: AsyncMongoClient[Document]) -> None:
        """Each new hire proposed a mentor or waitlisted, exactly once; no mentor over capacity."""
        db = client[self.options.database("matching")]
        requests: dict[str, list[Document]] = defaultdict(list)
        async for doc in db["requests"].find({"programme_id": "onboarding"}, {"mentee_id": 1, "state": 1}):
            requests[doc["mentee_id"]].append(doc)
        live: dict[str, list[Document]] = defaultdict(list)
        mentor_load: Counter[str] = Counter()
        async for doc in db["matches"].find(
            {"state": {"$in": list(LIVE_MATCH_STATES)}}, {"mentee_id": 1, "mentor_id": 1}
        ):
            live[doc["mentee_id"]].append(doc)
            mentor_load[doc["mentor_id"]] += 1
        events = await self._events(MATCHING_EVENTS.name)
        proposed = Counter(
            e["payload"]["mentee_id"] for e in events if e["type"] == "matching.match_proposed"
        )
        waitlisted = Counter(
            e["payload"]["person_id"] for e in events if e["type"] == "matching.request_waitlisted"
        )
        for mentee in self.population.mentees:
            _count(findings, f"onboarding request of {mentee}", len(requests[mentee]))
            states = [r["state"] for r in requests[mentee]]
            if states and states[0] not in ("proposed", "waitlisted"):
                findings.lost.add(f"{mentee} neither proposed a mentor nor waitlisted (request {states[0]})")
            expected_live = 1 if states == ["proposed"] else 0
            _count(findings, f"live matches of {mentee}", len(live[mentee]), expected_live)
            # Nobody declines in the burst, so one proposal each at most, and one waitlisting.
            if proposed[mentee] > 1:
                findings.doubled.add(f"{mentee} proposed {proposed[mentee]} times")
            if waitlisted[mentee] > 1:
                findings.doubled.add(f"{mentee} waitlisted {waitlisted[mentee]} times")
            if states == ["waitlisted"] and not waitlisted[mentee]:
                findings.lost.add(f"{mentee} waitlisted without matching.request_waitlisted")
        for mentor, load in mentor_load.items():
            capacity = self.population.capacity.get(mentor, 0)
            if load > capacity:
                findings.doubled.add(f"mentor {mentor} holds {load} live matches, capacity {capacity}")

    async def _recognition(self, findings: Findings, client: AsyncMongoClient[Document]) -> None:
        """Each kudos recorded once, one ledger entry each, and standings that add up to the ledger."""
        db = client[self.options.database("recognition")]
        kudos = {d["_id"] async for d in db["kudos"].find({}, {"_id": 1})}
        entries: Counter[str] = Counter()
        ledger_points: Counter[str] = Counter()
        async for doc in db["ledger"].find(
            {}, {"person_id": 1, "points": 1, "reason": 1, "source_event_id": 1}
        ):
            if doc.get("reason") == "kudos_received":
                entries[doc["person_id"]] += 1
            ledger_points[doc["person_id"]] += doc["points"]
        standing = {d["_id"]: d.get("points", 0) async for d in db["standings_all"].find({}, {"points": 1})}
        thanked = Counter(self.population.kudos.values())
        for kudos_id, mentor in self.population.kudos.items():
            if kudos_id not in kudos:
                findings.lost.add(f"kudos {kudos_id[:8]} to {mentor} not recorded")
        for mentor, count in thanked.items():
            _count(findings, f"kudos ledger entries of {mentor}", entries[mentor], count)
            _count(findings, f"all-time points of {mentor}", standing.get(mentor, 0), ledger_points[mentor])

    async def expected_notifications(self) -> dict[str, str]:
        """Notification id -> what it is, for every notice the published events call for, on
        each channel the person chose."""
        expected: dict[str, str] = {}
        for topic in (MATCHING_EVENTS.name, RECOGNITION_EVENTS.name):
            for event in await self._events(topic):
                for notice in notices_for(decode(topic, json.dumps(event))):
                    for channel in self.population.channels.get(notice.recipient_id, ("email",)):
                        nid = notification_id(str(event["event_id"]), notice.recipient_id, channel)
                        expected[nid] = f"{notice.template} to {notice.recipient_id} by {channel}"
        return expected

    async def _mail_ids(self) -> Counter[str]:
        ids: Counter[str] = Counter()
        async with httpx.AsyncClient(base_url=self.infra.mailpit_api, timeout=10) as http:
            start = 0
            while True:
                page = await http.get("/api/v1/messages", params={"start": start, "limit": MAILPIT_PAGE})
                page.raise_for_status()
                messages = page.json()["messages"]
                ids.update(str(m["MessageID"]).strip("<>").split("@", 1)[0] for m in messages)
                if len(messages) < MAILPIT_PAGE:
                    return ids
                start += MAILPIT_PAGE

    async def _notifications(self, findings: Findings) -> None:
        """Every expected notice arrived exactly once per channel; nothing arrived unasked."""
        expected = await self.expected_notifications()
        arrived = await self._mail_ids()
        arrived.update(d.headers.get("idempotency-key", "?") for d in self.receiver.received)
        for nid, what in expected.items():
            _count(findings, f"{what} ({nid[:8]})", arrived[nid])
        for nid, count in arrived.items():
            if nid not in expected:
                findings.doubled.add(f"unexpected notification {nid[:8]} arrived {count} time(s)")

    async def _dead_letters(self, findings: Findings) -> None:
        """A dead letter is a message the platform gave up on: lost for whoever it was about."""
        for topic, records in (await dead_letters(self.options, self.infra.kafka_bootstrap)).items():
            findings.lost.add(f"{records} dead letter(s) on {topic}")
