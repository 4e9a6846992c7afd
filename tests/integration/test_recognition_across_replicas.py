"""Two recognition instances in one consumer group, the second joining while the first is busy
(so partitions move mid-stream): every badge is awarded exactly once, and every person's
standings equal their ledger, which equals the rules applied to what happened."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta

from services.recognition.app import definition
from services.recognition.rules import PointsRules
from services.recognition.settings import RecognitionSettings
from services.runtime.service import running
from tests.support.infrastructure import Infrastructure
from tests.support.recognition import Recognition, completed
from tests.support.services import settings_for

MENTORS = 6
SESSIONS = 11
START = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)
RULES = PointsRules()


async def test_every_badge_is_awarded_exactly_once_with_two_instances_consuming(
    infrastructure: Infrastructure, namespace: str
) -> None:
    settings = settings_for(RecognitionSettings, infrastructure, namespace)
    stream = [
        completed(f"s-{m}-{n}", f"M{m}", [f"E{m}"], START + timedelta(days=n), ratings={f"E{m}": 5})
        for n in range(SESSIONS)
        for m in range(MENTORS)
    ]
    async with AsyncExitStack() as replicas:
        first = await replicas.enter_async_context(running(definition, settings))
        recognition = Recognition(infrastructure, settings, first.db)
        half = len(stream) // 2
        await recognition.send(*stream[:half])
        await asyncio.gather(
            replicas.enter_async_context(running(definition, settings)), recognition.send(*stream[half:])
        )
        # Redelivery as another producer retry would cause it, while both instances run.
        await recognition.send(*stream[::3])
        await recognition.settled(timeout=180)

        expected_badges = {"first_session", "sessions_5", "sessions_10"}
        awarded = await recognition.badges()
        for m in range(MENTORS):
            assert {b for p, b in awarded if p == f"M{m}"} == expected_badges | {"highly_rated"}
            assert {b for p, b in awarded if p == f"E{m}"} == expected_badges

        announcements: dict[tuple[str, str], set[str]] = defaultdict(set)
        for event in await recognition.events():
            if event["type"] == "recognition.badge_awarded":
                announcements[(event["payload"]["person_id"], event["payload"]["badge"])].add(
                    event["event_id"]
                )
        assert set(announcements) == awarded
        assert all(len(ids) == 1 for ids in announcements.values()), "a repeat carries the same event id"

        mentor = SESSIONS * (RULES.session_mentored + RULES.good_feedback)
        expected = {f"M{m}": mentor for m in range(MENTORS)} | {
            f"E{m}": SESSIONS * RULES.session_attended for m in range(MENTORS)
        }
        assert await recognition.points() == expected
        assert await recognition.standing_points() == expected
