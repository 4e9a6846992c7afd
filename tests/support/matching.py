"""Matching test helpers: profile snapshots as the profile service would publish them, and a
harness that sends them and reads matching's events on the real broker."""

from __future__ import annotations

import json
from typing import Any

from pymongo import AsyncMongoClient

from contracts.catalogue import MATCHING_COMMANDS, MATCHING_EVENTS, PROFILE_EVENTS
from contracts.profile import ProfileCreated, ProfileSnapshot, ProfileUpdated
from services.matching.app import MatchingSettings
from tests.support.infrastructure import Infrastructure
from tests.support.kafka import Record, group_caught_up, produce, read_all, wait_for_records
from tests.support.waiting import eventually


def snapshot(person_id: str, revision: int = 1, **fields: Any) -> ProfileSnapshot:
    return ProfileSnapshot.model_validate(
        {
            "person_id": person_id,
            "revision": revision,
            "status": "active",
            "display_name": person_id,
            "email": f"{person_id.lower()}@example.com",
            "time_zone": "Europe/Berlin",
            "level": "junior",
            "team": "payments",
            "programmes": ["onboarding"],
            **fields,
        }
    )


def mentor(person_id: str, capacity: int = 2, revision: int = 1, **fields: Any) -> ProfileSnapshot:
    return snapshot(
        person_id,
        revision,
        level="senior",
        team="platform",
        programmes=[],
        mentee={"opted_in": False},
        mentor={"opted_in": True, "capacity": capacity},
        **fields,
    )


class Matching:
    def __init__(self, infra: Infrastructure, settings: MatchingSettings) -> None:
        self.infra = infra
        self.settings = settings

    async def profile(self, person: ProfileSnapshot, event_id: str | None = None) -> None:
        cls = ProfileCreated if person.revision == 1 else ProfileUpdated
        message = cls.create(person, source="profile", event_id=event_id)
        await produce(
            self.infra.kafka_bootstrap,
            self.settings.topic(PROFILE_EVENTS.name),
            message.to_json_bytes(),
            key=person.person_id.encode(),
        )

    async def events(self, count: int) -> list[dict[str, Any]]:
        records = await wait_for_records(
            self.infra.kafka_bootstrap, self.settings.topic(MATCHING_EVENTS.name), lambda r: len(r) >= count
        )
        # Records come grouped by partition; the time each event was made is the order people saw.
        events = [json.loads(r.value or b"") for r in records]
        return sorted(events, key=lambda e: str(e["occurred_at"]))

    async def all_events(self) -> list[Record]:
        return await read_all(self.infra.kafka_bootstrap, self.settings.topic(MATCHING_EVENTS.name))

    async def command(self, type_: str, payload: dict[str, Any], key: str, event_id: str) -> None:
        """Send a matching command as another system would, in plain JSON."""
        body = {
            "event_id": event_id,
            "type": type_,
            "source": "tests",
            "occurred_at": "2026-12-01T10:00:00Z",
            "payload": payload,
        }
        await produce(
            self.infra.kafka_bootstrap,
            self.settings.topic(MATCHING_COMMANDS.name),
            json.dumps(body).encode(),
            key=key.encode(),
        )

    async def respond(self, match_id: str, responder: str, decision: str, **extra: Any) -> None:
        payload = {"match_id": match_id, "responder_id": responder, "decision": decision, **extra}
        await self.command(
            "matching.respond_to_proposal", payload, match_id, f"answer-{match_id}-{responder}-{decision}"
        )

    async def request(self, requester: str, kind: str, programme_id: str = "career-growth") -> None:
        payload = {"request_id": f"r-{requester}-{kind}", "requester_id": requester, "kind": kind}
        payload["programme_id"] = programme_id
        await self.command("matching.request_mentorship", payload, requester, f"request-{requester}-{kind}")

    async def round(self, round_id: str, programme_id: str) -> None:
        payload = {"round_id": round_id, "programme_id": programme_id, "requested_by": "OPS"}
        await self.command("matching.run_cohort_round", payload, programme_id, round_id)

    async def dead_letters(self, count: int) -> list[Record]:
        return await wait_for_records(
            self.infra.kafka_bootstrap,
            f"{self.settings.topic(MATCHING_COMMANDS.name)}.dlq",
            lambda r: len(r) >= count,
        )

    async def handled_everything_on(self, logical_topic: str) -> None:
        """Wait until matching has handled every message sent so far to a topic."""
        topic = self.settings.topic(logical_topic)
        group = self.settings.consumer_group

        async def caught_up() -> bool:
            return await group_caught_up(self.infra.kafka_bootstrap, group, topic)

        await eventually(caught_up, what=f"matching handling everything on {logical_topic}")

    async def known(self, count: int) -> bool:
        """Whether matching's pool holds at least ``count`` people."""
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(self.infra.mongo_url)
        try:
            return await client[self.settings.database_name]["candidates"].count_documents({}) >= count
        finally:
            await client.close()


def of_type(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == f"matching.{kind}"]
