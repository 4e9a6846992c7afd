"""Instances join and leave a service's consumer group while events flow: partitions move
between them, and still nothing is lost, nothing is applied twice, and each person's events
are applied in order."""

from __future__ import annotations

import asyncio
import json
import signal
from collections import defaultdict
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiokafka import AIOKafkaProducer

from contracts.catalogue import HR_EMPLOYEES, PROFILE_EVENTS
from tests.e2e.processes import RunningService, service_process
from tests.support.builders import hr_event
from tests.support.infrastructure import Infrastructure
from tests.support.kafka import group_caught_up, read_all
from tests.support.waiting import eventually

PEOPLE = 120
UPDATES = 3


def _stream() -> list[tuple[str, bytes]]:
    """Everyone's onboarding, then everyone's first team change, and so on: each person's
    events in the order they happened, people interleaved."""
    start = datetime(2026, 12, 1, 9, tzinfo=UTC)
    events = []
    for round_ in range(UPDATES + 1):
        for i in range(PEOPLE):
            person = f"SC{i:04d}"
            at = start + timedelta(hours=round_)
            event = (
                hr_event("employee.onboarded", person, at, team="team-0")
                if round_ == 0
                else hr_event("employee.updated", person, at, team=f"team-{round_}")
            )
            events.append((person, event.model_dump_json().encode()))
    return events


async def test_profile_instances_joining_and_leaving_mid_stream_lose_and_double_nothing_and_keep_order(
    infrastructure: Infrastructure, namespace: str, tmp_path: Path
) -> None:
    inbound = f"{namespace}.{HR_EMPLOYEES.name}"
    events = _stream()
    third = len(events) // 3
    thirds = [events[:third], events[third : 2 * third], events[2 * third :]]
    for name in ("first", "second"):
        (tmp_path / name).mkdir()

    async def send(batch: list[tuple[str, bytes]]) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=infrastructure.kafka_bootstrap, acks="all")
        await producer.start()
        try:
            for person, value in batch:
                await producer.send(inbound, value, key=person.encode())
            await producer.flush()
        finally:
            await producer.stop()

    async with AsyncExitStack() as instances:
        first = await instances.enter_async_context(
            service_process("profile", infrastructure, namespace, tmp_path / "first", ready_timeout=120)
        )
        await send(thirds[0])
        # Scale out while the first third is being handled: the group rebalances.
        second = await instances.enter_async_context(
            service_process("profile", infrastructure, namespace, tmp_path / "second", ready_timeout=120)
        )
        await send(thirds[1])
        # Scale in: the first instance finishes what it holds and leaves on SIGTERM.
        first.process.send_signal(signal.SIGTERM)
        await asyncio.to_thread(first.process.wait, 60)
        await send(thirds[2])

        async def handled_everything() -> bool:
            return await group_caught_up(infrastructure.kafka_bootstrap, f"{namespace}.profile", inbound)

        await eventually(handled_everything, timeout=180, what="the remaining instance handling every event")

    def changes(instance: RunningService) -> int:
        return sum(line.get("event") == "profile changed" for line in instance.log_lines())

    assert changes(first) > 0, "the first instance handled events before it left"
    assert changes(second) > 0, "the second instance took over partitions"
    published = await read_all(infrastructure.kafka_bootstrap, f"{namespace}.{PROFILE_EVENTS.name}")
    revisions: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for record in published:  # in partition order, and a person's events share one partition
        event = json.loads(record.value or b"")
        revisions[event["subject"]].append((event["payload"]["revision"], event["event_id"]))

    assert len(revisions) == PEOPLE, "everyone has a profile"
    for person, seen in revisions.items():
        distinct = list(dict.fromkeys(seen))  # a re-sent event keeps its id; only new ids are effects
        numbers = [revision for revision, _ in distinct]
        assert numbers == list(range(1, UPDATES + 2)), f"{person}: revisions {numbers}"
    last = {
        json.loads(r.value or b"")["subject"]: json.loads(r.value or b"")["payload"]["team"]
        for r in published
    }
    assert set(last.values()) == {f"team-{UPDATES}"}, "every person ends on their last team"
