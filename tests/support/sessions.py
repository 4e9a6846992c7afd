"""Scheduling test helpers for matched sessions: people and matching events in, scheduling's
events out, over the real broker."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pymongo import AsyncMongoClient

from contracts.catalogue import MATCHING_EVENTS, PROFILE_EVENTS, SCHEDULING_COMMANDS, SCHEDULING_EVENTS
from contracts.envelope import Envelope
from contracts.matching import MatchConfirmed, MatchParticipants
from contracts.profile import ProfileCreated, ProfileSnapshot
from services.scheduling.settings import SchedulingSettings
from tests.support.infrastructure import Infrastructure
from tests.support.kafka import Record, produce, read_all, wait_for_records
from tests.support.waiting import eventually


def person(person_id: str, time_zone: str, **fields: Any) -> ProfileSnapshot:
    return ProfileSnapshot.model_validate(
        {
            "person_id": person_id,
            "revision": 1,
            "status": "active",
            "display_name": person_id,
            "email": f"{person_id.lower()}@example.com",
            "time_zone": time_zone,
            **fields,
        }
    )


class Scheduling:
    def __init__(self, infra: Infrastructure, settings: SchedulingSettings) -> None:
        self.infra = infra
        self.settings = settings

    async def _send(self, logical_topic: str, message: Envelope) -> None:
        await produce(
            self.infra.kafka_bootstrap,
            self.settings.topic(logical_topic),
            message.to_json_bytes(),
            key=message.subject.encode(),
        )

    async def people(self, *people: ProfileSnapshot) -> None:
        """Send profiles and wait until scheduling knows everyone."""
        for snapshot in people:
            await self._send(PROFILE_EVENTS.name, ProfileCreated.create(snapshot, source="profile"))

        async def known() -> bool:
            client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(self.infra.mongo_url)
            try:
                ids = [p.person_id for p in people]
                found = await client[self.settings.database_name]["people"].count_documents(
                    {"_id": {"$in": ids}}
                )
                return found == len(ids)
            finally:
                await client.close()

        await eventually(known, what="scheduling knowing everyone")

    async def confirmed(
        self, match_id: str, mentor_id: str, mentee_id: str, occurred_at: datetime | None = None, **extra: Any
    ) -> None:
        data = MatchParticipants.model_validate(
            {
                "match_id": match_id,
                "kind": extra.get("kind", "one_to_one"),
                "programme_id": extra.get("programme_id", "onboarding"),
                "mentor_id": mentor_id,
                "mentee_id": mentee_id,
            }
        )
        message = MatchConfirmed.create(data, source="matching", occurred_at=occurred_at or datetime.now(UTC))
        await self._send(MATCHING_EVENTS.name, message)

    async def matching_event(self, message: Envelope) -> None:
        await self._send(MATCHING_EVENTS.name, message)

    async def command(self, type_: str, payload: dict[str, Any], key: str, event_id: str) -> None:
        body = {
            "event_id": event_id,
            "type": type_,
            "source": "tests",
            "occurred_at": datetime.now(UTC).isoformat(),
            "payload": payload,
        }
        await produce(
            self.infra.kafka_bootstrap,
            self.settings.topic(SCHEDULING_COMMANDS.name),
            json.dumps(body).encode(),
            key=key.encode(),
        )

    async def events(self, count: int, timeout: float = 30.0) -> list[dict[str, Any]]:
        records = await wait_for_records(
            self.infra.kafka_bootstrap,
            self.settings.topic(SCHEDULING_EVENTS.name),
            lambda r: len(r) >= count,
            timeout=timeout,
        )
        events = [json.loads(r.value or b"") for r in records]
        return sorted(events, key=lambda e: str(e["occurred_at"]))

    async def event_of(self, kind: str, session_id: str, timeout: float = 30.0) -> dict[str, Any]:
        """The first ``scheduling.<kind>`` event about a session, once it is out. Waits by type
        and session, not by position: a series may plan its next occurrence at any moment."""
        records = await wait_for_records(
            self.infra.kafka_bootstrap,
            self.settings.topic(SCHEDULING_EVENTS.name),
            lambda rs: any(_is(r.value, kind, session_id) for r in rs),
            timeout=timeout,
        )
        return next(json.loads(r.value or b"") for r in records if _is(r.value, kind, session_id))

    async def all_events(self) -> list[dict[str, Any]]:
        records = await read_all(self.infra.kafka_bootstrap, self.settings.topic(SCHEDULING_EVENTS.name))
        return [json.loads(r.value or b"") for r in records]

    async def dead_letters(self, count: int) -> list[Record]:
        return await wait_for_records(
            self.infra.kafka_bootstrap,
            f"{self.settings.topic(SCHEDULING_COMMANDS.name)}.dlq",
            lambda r: len(r) >= count,
        )


def _is(value: bytes | None, kind: str, session_id: str) -> bool:
    event = json.loads(value or b"")
    return bool(event["type"] == f"scheduling.{kind}" and event["payload"].get("session_id") == session_id)


def of_type(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == f"scheduling.{kind}"]
