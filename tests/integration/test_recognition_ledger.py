"""Recognition on the real stack: a month of sessions, feedback, office hours, a talk, a reverse
mentorship and kudos becomes the expected ledger, badges and leaderboard; replaying all of
it changes nothing; corrections reverse points with compensating entries."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from contracts.catalogue import RECOGNITION_COMMANDS
from contracts.envelope import Envelope
from contracts.scheduling import SessionKind
from services.recognition.app import definition
from services.recognition.boards import leaderboard, refresh_leaderboards
from services.recognition.rules import PointsRules
from services.recognition.settings import RecognitionSettings
from services.recognition.store import RecognitionStore
from services.runtime.service import running
from tests.support.infrastructure import Infrastructure
from tests.support.kafka import read_all
from tests.support.recognition import (
    Recognition,
    cancelled_after_completion,
    completed,
    kudos,
    office_hours_booked,
    person,
    reverse_match,
    seat,
    talk,
)
from tests.support.services import settings_for

OCTOBER = datetime(2026, 10, 5, 9, 0, tzinfo=UTC)
RULES = PointsRules()


@pytest.fixture
async def recognition(infrastructure: Infrastructure, namespace: str) -> AsyncIterator[Recognition]:
    settings = settings_for(RecognitionSettings, infrastructure, namespace)
    async with running(definition, settings) as runtime:
        yield Recognition(infrastructure, settings, runtime.db)


def day(n: int) -> datetime:
    return OCTOBER + timedelta(days=n)


def a_month_of_mentoring() -> list[Envelope]:
    """Ana mentors Eve five times, rated 5 each time; Bo mentors Finn six times, rated 2, and
    leads a circle; Bo holds office hours; Ana gives a tech talk; junior Gus reverse-mentors
    Bo; Eve thanks Ana."""
    stream: list[Envelope] = [
        person("ANA", team="platform", manager_id="BOSS"),
        person("BO", team="platform", manager_id="BOSS"),
        person("EVE", team="data", manager_id="DANA"),
        person("FINN", team="data", manager_id="DANA"),
        person("GUS", team="data", manager_id="DANA"),
        reverse_match("rev-1", "GUS", "BO"),
    ]
    stream += [completed(f"ana-{n}", "ANA", ["EVE"], day(n), ratings={"EVE": 5}) for n in range(5)]
    stream += [completed(f"bo-{n}", "BO", ["FINN"], day(n), ratings={"FINN": 2}) for n in range(6)]
    stream += [
        completed("circle-1", "BO", ["GUS", "EVE"], day(7), attended=["GUS"], kind=SessionKind.CIRCLE),
        office_hours_booked("oh-1", "BO", "EVE", day(8)),
        office_hours_booked("oh-1", "BO", "FINN", day(8)),  # a second booking of the same slot
        talk("talk-1", "ANA", day(9)),
        seat("talk-1", "FINN"),
        seat("talk-1", "GUS"),
        completed("rev-s1", "GUS", ["BO"], day(10), match_id="rev-1", programme_id="reverse-mentoring"),
        kudos("k-1", "EVE", "ANA", day(11)),
    ]
    return stream


EXPECTED_POINTS = {
    "ANA": 5 * (RULES.session_mentored + RULES.good_feedback) + RULES.talk_given + RULES.kudos_received,
    "BO": 6 * RULES.session_mentored + RULES.circle_led + RULES.office_hours_hosted + RULES.session_attended,
    "EVE": 5 * RULES.session_attended,
    "FINN": 6 * RULES.session_attended,
    "GUS": RULES.session_attended + RULES.reverse_mentoring,
}

EXPECTED_BADGES = {
    ("ANA", "first_session"),
    ("ANA", "sessions_5"),
    ("ANA", "highly_rated"),
    ("ANA", "speaker"),
    ("BO", "first_session"),
    ("BO", "sessions_5"),
    ("BO", "circle_host"),
    ("EVE", "first_session"),
    ("EVE", "sessions_5"),
    ("FINN", "first_session"),
    ("FINN", "sessions_5"),
    ("GUS", "first_session"),
    ("GUS", "first_reverse_mentorship"),
}


async def test_a_stream_of_sessions_and_feedback_yields_the_expected_ledger_badges_and_leaderboard(
    recognition: Recognition,
) -> None:
    stream = a_month_of_mentoring()
    await recognition.send(*stream[:6])
    await recognition.people_known(5)
    await recognition.send(*stream[6:])
    await recognition.settled()

    assert await recognition.points() == EXPECTED_POINTS
    assert await recognition.standing_points("2026-10") == EXPECTED_POINTS
    assert await recognition.standing_points("2026-q4") == EXPECTED_POINTS
    assert await recognition.badges() == EXPECTED_BADGES

    store = RecognitionStore(recognition.db)
    await refresh_leaderboards(store, recognition.settings)
    overall = await leaderboard(store, "2026-10", "*")
    # Bo has more sessions, but Ana's are the ones people valued.
    assert [line["person_id"] for line in overall][:2] == ["ANA", "BO"]
    assert overall[0]["average_rating"] == 5.0
    assert overall[1]["sessions"] > overall[0]["sessions"]
    team = await leaderboard(store, "2026-10", "team:data")
    assert {line["person_id"] for line in team} == {"EVE", "FINN", "GUS"}
    reverse_board = await leaderboard(store, "all", "programme:reverse-mentoring")
    assert [line["person_id"] for line in reverse_board] == ["GUS", "BO"]

    events = await recognition.events()
    badge_events = {
        (e["payload"]["person_id"], e["payload"]["badge"])
        for e in events
        if e["type"].endswith("badge_awarded")
    }
    assert badge_events == EXPECTED_BADGES
    assert sum(e["type"].endswith("kudos_given") for e in events) == 1


async def test_replaying_the_whole_stream_changes_nothing(recognition: Recognition) -> None:
    stream = a_month_of_mentoring()
    await recognition.send(*stream[:6])
    await recognition.people_known(5)
    await recognition.send(*stream[6:])
    await recognition.settled()
    ledger = sorted((e["_id"], e["points"]) for e in await recognition.ledger())
    standings = {p: await recognition.standing_points(p) for p in ("2026-10", "2026-q4", "all")}
    published = await recognition.events()

    await recognition.send(*stream)
    await recognition.send(*stream[6:])
    await recognition.settled()

    assert sorted((e["_id"], e["points"]) for e in await recognition.ledger()) == ledger
    assert {p: await recognition.standing_points(p) for p in standings} == standings
    assert len(await recognition.events()) == len(published)


async def test_a_corrected_outcome_reverses_points_with_compensating_entries(
    recognition: Recognition,
) -> None:
    await recognition.send(
        completed("s-1", "ANA", ["EVE"], day(1), ratings={"EVE": 5}),
        completed("s-1", "ANA", ["EVE"], day(1), ratings={"EVE": 5}, attended=[], revision=2),
    )
    await recognition.settled()

    ledger = await recognition.ledger()
    reversals = [e for e in ledger if e["reverses"]]
    originals = {e["_id"]: e for e in ledger if not e["reverses"]}
    assert len(originals) == 3  # mentored, good feedback, attended
    assert {r["reverses"] for r in reversals} == set(originals)
    assert all(r["points"] == -originals[r["reverses"]]["points"] for r in reversals)
    assert await recognition.points() == {"ANA": 0, "EVE": 0}
    assert await recognition.standing_points("2026-10") == {"ANA": 0, "EVE": 0}
    events = [e for e in await recognition.events() if e["type"].endswith("points_awarded")]
    assert sum(1 for e in events if e["payload"]["reverses_entry_id"]) == 3


async def test_a_session_withdrawn_after_completion_reverses_its_points_for_good(
    recognition: Recognition,
) -> None:
    await recognition.send(
        completed("s-2", "ANA", ["EVE"], day(2)),
        completed("s-3", "ANA", ["EVE"], day(3)),
        cancelled_after_completion("s-2", "ANA", ["EVE"], day(2)),
        # A late outcome of the withdrawn session is ignored: withdrawal is final.
        completed("s-2", "ANA", ["EVE"], day(2), revision=2, ratings={"EVE": 4}),
    )
    await recognition.settled()

    assert await recognition.points() == {"ANA": RULES.session_mentored, "EVE": RULES.session_attended}
    assert await recognition.standing_points() == {
        "ANA": RULES.session_mentored,
        "EVE": RULES.session_attended,
    }
    # The badge stays: badges are never taken back by a correction.
    assert ("ANA", "first_session") in await recognition.badges()


async def test_kudos_reach_the_mentor_once_and_thanking_oneself_is_dead_lettered(
    recognition: Recognition,
) -> None:
    thanks = kudos("k-2", "EVE", "ANA", day(4))
    await recognition.send(thanks, thanks, kudos("k-3", "ANA", "ANA", day(4)))
    await recognition.settled()

    assert await recognition.points() == {"ANA": RULES.kudos_received}
    given = [e for e in await recognition.events() if e["type"] == "recognition.kudos_given"]
    assert [(e["payload"]["kudos_id"], e["payload"]["to_id"]) for e in given] == [("k-2", "ANA")]
    dead = await read_all(
        recognition.infra.kafka_bootstrap, recognition.settings.topic(RECOGNITION_COMMANDS.dead_letter)
    )
    assert len(dead) == 1
    assert "themselves" in dead[0].headers["dlq.reason"]
