"""From an HR system's onboarding event to a mentor proposal, across the profile and matching
services running as separate processes, traced by one correlation id."""

from __future__ import annotations

import json
from pathlib import Path

from contracts.catalogue import HR_EMPLOYEES, MATCHING_EVENTS, PROFILE_COMMANDS, PROFILE_EVENTS
from tests.e2e.processes import service_process
from tests.support.builders import onboarding_json
from tests.support.infrastructure import Infrastructure
from tests.support.kafka import produce, wait_for_records
from tests.support.waiting import eventually


async def test_a_new_hire_gets_a_mentor_proposed_through_both_services(
    infrastructure: Infrastructure, namespace: str, tmp_path: Path
) -> None:
    async def send(topic: str, key: str, body: dict[str, object]) -> None:
        await produce(
            infrastructure.kafka_bootstrap, f"{namespace}.{topic}", json.dumps(body).encode(), key.encode()
        )

    async with (
        service_process("profile", infrastructure, namespace, tmp_path) as profile,
        service_process("matching", infrastructure, namespace, tmp_path) as matching,
    ):
        veteran = onboarding_json("VET-1", team="platform", level="senior")
        veteran["occurred_at"] = "2026-01-05T09:00:00Z"
        veteran["payload"]["programmes"] = ["career-growth"]
        await send(HR_EMPLOYEES.name, "VET-1", veteran)
        # A person changes a profile that exists: wait for it (commands and HR events travel
        # on different topics, so nothing orders them otherwise).
        await wait_for_records(
            infrastructure.kafka_bootstrap, f"{namespace}.{PROFILE_EVENTS.name}", lambda rs: len(rs) >= 1
        )
        await send(
            PROFILE_COMMANDS.name,
            "VET-1",
            {
                "event_id": "vet-mentors",
                "type": "profile.update",
                "source": "web",
                "occurred_at": "2026-01-06T09:00:00Z",
                "payload": {"person_id": "VET-1", "mentor": {"opted_in": True, "capacity": 2}},
            },
        )
        hire = onboarding_json("NEW-1", team="payments", level="junior")
        await send(HR_EMPLOYEES.name, "NEW-1", hire)

        records = await wait_for_records(
            infrastructure.kafka_bootstrap,
            f"{namespace}.{MATCHING_EVENTS.name}",
            lambda rs: any(json.loads(r.value or b"")["type"] == "matching.match_proposed" for r in rs),
            timeout=60,
        )
        # The service logs right after it published; give the line a moment to land.
        await eventually(
            lambda: any(
                line.get("correlation_id") == hire["event_id"] and line.get("event") == "match proposed"
                for line in matching.log_lines()
            ),
            timeout=10,
            what="the proposal logged in the new hire's chain",
        )
        profile_lines = profile.log_lines()

    proposal = next(
        json.loads(r.value or b"")
        for r in records
        if json.loads(r.value or b"")["type"] == "matching.match_proposed"
    )
    assert (proposal["payload"]["mentor_id"], proposal["payload"]["mentee_id"]) == ("VET-1", "NEW-1")
    # One correlation id from the HR event to the proposal, and in both services' logs.
    assert proposal["correlation_id"] == hire["event_id"]
    assert any(line.get("correlation_id") == hire["event_id"] for line in profile_lines)
