"""`make bench`: first sessions for a batch of new matches through the scheduling service on
the real stack, beside the same slot search done in memory in the same run.

    python -m tests.benchmarks.scheduling_matches [--matches N] [--mentors M]

The people are known to scheduling before the batch: their profile events are timed apart,
from the first send until the service committed the last one. Then every
`matching.match_confirmed` is published at once, and the clock stops when every match has its
`session_scheduled` or `no_slot_found` event readable on the topic.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from random import Random

from aiokafka import AIOKafkaProducer

from contracts.catalogue import MATCHING_EVENTS, PROFILE_EVENTS, SCHEDULING_EVENTS
from contracts.matching import MatchConfirmed, MatchParticipants
from contracts.profile import ProfileCreated
from services.runtime.logging import configure_logging
from services.runtime.service import running
from services.runtime.topics import ensure_topics
from services.scheduling.app import SchedulingSettings, definition
from services.scheduling.slots import Attendee, earliest_common_slot
from tests.benchmarks.scheduling_slots import _person
from tests.support.infrastructure import Infrastructure, provide
from tests.support.kafka import TopicProgress
from tests.support.services import settings_for
from tests.support.sessions import person
from tests.support.waiting import eventually


def in_memory(pairs: list[tuple[Attendee, Attendee]], settings: SchedulingSettings) -> float:
    """Baseline: the same searches, no broker and no database."""
    after = datetime.now(UTC) + timedelta(hours=settings.min_notice_hours)
    started = time.perf_counter()
    for mentee, mentor in pairs:
        earliest_common_slot(
            [mentor, mentee],
            after=after,
            horizon_days=settings.horizon_days,
            duration_minutes=settings.session_minutes,
            working_hours=settings.working_hours,
        )
    return time.perf_counter() - started


async def through_service(
    infra: Infrastructure, pairs: list[tuple[Attendee, Attendee]], settings: SchedulingSettings
) -> tuple[int, float, float]:
    """People known, seconds to take in their profiles, seconds from confirmations to sessions."""
    await ensure_topics(settings, (PROFILE_EVENTS, MATCHING_EVENTS, SCHEDULING_EVENTS))
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        async with running(definition, settings):
            everyone = {a.person_id: a for pair in pairs for a in pair}
            intake_started = time.perf_counter()
            sends = [
                producer.send(
                    settings.topic(PROFILE_EVENTS.name),
                    ProfileCreated.create(
                        person(
                            a.person_id, a.time_zone, availability=[w.model_dump() for w in a.availability]
                        ),
                        source="bench",
                    ).to_json_bytes(),
                    key=a.person_id.encode(),
                )
                for a in everyone.values()
            ]
            await asyncio.gather(*[await s for s in sends])
            profiles = settings.topic(PROFILE_EVENTS.name)
            async with TopicProgress(infra.kafka_bootstrap, profiles, settings.consumer_group) as intake_done:
                await eventually(intake_done.caught_up, timeout=3600, what="scheduling knowing everyone")
            intake = time.perf_counter() - intake_started
            started = time.perf_counter()
            confirmations = [
                MatchConfirmed.create(
                    MatchParticipants.model_validate(
                        {
                            "match_id": f"bench-{index}",
                            "kind": "one_to_one",
                            "programme_id": "onboarding",
                            "mentor_id": mentor.person_id,
                            "mentee_id": mentee.person_id,
                        }
                    ),
                    source="bench",
                )
                for index, (mentee, mentor) in enumerate(pairs)
            ]
            pending = [
                await producer.send(
                    settings.topic(MATCHING_EVENTS.name), m.to_json_bytes(), key=m.subject.encode()
                )
                for m in confirmations
            ]
            await asyncio.gather(*pending)
            # One event per match: the topic's end offsets count them without reading them.
            async with TopicProgress(infra.kafka_bootstrap, settings.topic(SCHEDULING_EVENTS.name)) as out:

                async def every_match_answered() -> bool:
                    return await out.published() >= len(pairs)

                await eventually(every_match_answered, timeout=7200, what="a first session for every match")
            return len(everyone), intake, time.perf_counter() - started
    finally:
        await producer.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench-scheduling-matches")
    parser.add_argument("--matches", type=int, default=10_000)
    parser.add_argument("--mentors", type=int, default=2_500)
    args = parser.parse_args(argv)
    configure_logging("bench", level="WARNING", fmt="console")
    rng = Random(7)
    mentors = [_person(rng, f"mentor-{i}") for i in range(min(args.mentors, args.matches))]
    pairs = [(_person(rng, f"mentee-{i}"), mentors[i % len(mentors)]) for i in range(args.matches)]
    with provide() as infra:
        settings = settings_for(SchedulingSettings, infra, f"bench{uuid.uuid4().hex[:8]}")
        print(f"servers: {infra.origin}; {args.matches} new matches, {len(mentors)} mentors, 8 time zones")
        baseline = in_memory(pairs, settings)
        people, intake, service = asyncio.run(through_service(infra, pairs, settings))
    print(f"{'run':62} {'seconds':>9} {'per s':>10}")
    for label, seconds, count in (
        ("slot search in memory, same pairs (baseline)", baseline, args.matches),
        (f"scheduling service: {people} profile events in, all committed", intake, people),
        ("scheduling service: match confirmed in, first session out", service, args.matches),
    ):
        print(f"{label:62} {seconds:9.2f} {count / seconds:10.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
