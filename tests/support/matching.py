"""Matching test helpers: profile snapshots as the profile service would publish them, and a
harness that sends them and reads matching's events on the real broker."""

from __future__ import annotations

import json
from typing import Any

from contracts.catalogue import MATCHING_EVENTS, PROFILE_EVENTS
from contracts.profile import ProfileCreated, ProfileSnapshot, ProfileUpdated
from services.matching.app import MatchingSettings
from tests.support.infrastructure import Infrastructure
from tests.support.kafka import Record, produce, read_all, wait_for_records


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
        return [json.loads(r.value or b"") for r in records]

    async def all_events(self) -> list[Record]:
        return await read_all(self.infra.kafka_bootstrap, self.settings.topic(MATCHING_EVENTS.name))
