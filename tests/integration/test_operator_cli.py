"""The operator CLI on the real stack: dead letters listed with their reason and replayed
once each, a fixed service handling a replay (a notification replay retrying just the
delivery that failed), and status showing lag, dead-letter depth and readiness.

The matching service stands in for any service: a cohort round for a programme it does not
know is dead-lettered; the fix is to configure the programme, then replay.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from typer.testing import CliRunner

from contracts.catalogue import MATCHING_COMMANDS, MATCHING_EVENTS, PROFILE_EVENTS
from contracts.common import MentorshipKind
from contracts.matching import MatchProposed
from contracts.programmes import DEFAULT_PROGRAMMES, Programme
from deploy.local.chat_receiver import running_receiver
from deploy.operator.cli import app
from services.matching.app import MatchingSettings, definition
from services.profile.app import ProfileSettings
from services.profile.app import definition as profile_definition
from services.runtime.service import create_app, running
from tests.support.infrastructure import Infrastructure
from tests.support.kafka import read_all, wait_for_records
from tests.support.matching import Matching, mentor, snapshot
from tests.support.notices import proposal
from tests.support.notification import notification_service
from tests.support.services import settings_for

PILOT = Programme(programme_id="pilot", name="Pilot programme", kind=MentorshipKind.ONE_TO_ONE)


class Operator:
    """The CLI pointed at one test's namespace, run as an operator would run it."""

    def __init__(self, infra: Infrastructure, namespace: str) -> None:
        self.connection = ["--bootstrap-servers", infra.kafka_bootstrap, "--topic-prefix", f"{namespace}."]

    async def __call__(self, *args: str, expect: int = 0) -> str:
        # In a thread: the commands run their own event loop. Services are never running in
        # this process meanwhile, so nothing else writes to the captured stdout.
        result = await asyncio.to_thread(CliRunner().invoke, app, [*self.connection, *args])
        assert result.exit_code == expect, result.output
        return result.output

    async def json(self, *args: str, expect: int = 0) -> Any:
        return json.loads(await self(*args, "--json", expect=expect))

    async def as_process(self, *args: str) -> tuple[int, str]:
        """``python -m deploy.operator``, for when a service runs in this test's process."""
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "deploy.operator", *self.connection, *args,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await process.communicate()
        assert process.returncode is not None
        return process.returncode, out.decode() + err.decode()


@pytest.fixture
def operator(infrastructure: Infrastructure, namespace: str) -> Operator:
    return Operator(infrastructure, namespace)


@pytest.fixture
def settings(infrastructure: Infrastructure, namespace: str) -> MatchingSettings:
    return settings_for(MatchingSettings, infrastructure, namespace)


def with_pilot(settings: MatchingSettings, tmp_path: Path) -> MatchingSettings:
    """The fix: the programme configured."""
    path = tmp_path / "programmes.json"
    path.write_text(json.dumps([p.model_dump(mode="json") for p in (*DEFAULT_PROGRAMMES, PILOT)]))
    return settings.model_copy(update={"programmes_file": path})


async def dead_lettered(infra: Infrastructure, settings: MatchingSettings, count: int) -> None:
    """Run matching (without the pilot programme) until ``count`` commands are dead letters."""
    async with running(definition, settings):
        await wait_for_records(
            infra.kafka_bootstrap, settings.topic(MATCHING_COMMANDS.dead_letter), lambda r: len(r) >= count
        )


async def test_a_dead_letter_is_listed_with_its_reason_and_a_replay_is_handled_by_the_fixed_service(
    infrastructure: Infrastructure, settings: MatchingSettings, operator: Operator, tmp_path: Path
) -> None:
    await operator("round", "--programme", "pilot", "--round-id", "pilot-1")
    await dead_lettered(infrastructure, settings, 1)

    (listed,) = await operator.json("dlq", "list")
    with_body = await operator.json("dlq", "list", "--topic", "matching.commands.v1", "--show-body")
    replay = await operator.json(
        "dlq", "replay", "--topic", "matching.commands.v1",
        "--partition", str(listed["partition"]), "--offset", str(listed["offset"]),
    )  # fmt: skip
    async with running(definition, with_pilot(settings, tmp_path)):
        events = await wait_for_records(
            infrastructure.kafka_bootstrap,
            settings.topic(MATCHING_EVENTS.name),
            lambda records: any(b'"pilot-1"' in (r.value or b"") for r in records),
        )
    again = await operator(
        "dlq", "replay", "--topic", "matching.commands.v1.dlq",
        "--partition", str(listed["partition"]), "--offset", str(listed["offset"]), expect=1,
    )  # fmt: skip
    (after,) = await operator.json("dlq", "list")
    commands = await read_all(infrastructure.kafka_bootstrap, settings.topic(MATCHING_COMMANDS.name))

    assert listed["topic"] == "matching.commands.v1.dlq"
    assert listed["event_type"] == "matching.run_cohort_round"
    assert listed["service"] == "matching"
    assert "there is no programme 'pilot'" in listed["reason"]
    assert listed["attempts"] == 1
    assert listed["replayed_at"] is None
    assert "body" not in listed
    assert '"round_id":"pilot-1"' in with_body[0]["body"]

    assert [r["replay_of"] for r in replay] == [f"{settings.topic('matching.commands.v1.dlq')}:0:0"]
    original, replayed = commands
    assert replayed.value == original.value
    assert replayed.key == original.key
    assert replayed.headers["replay.of"] == replay[0]["replay_of"]
    assert replayed.headers["dlq.service"] == "matching"
    assert replayed.headers["event_id"] == original.headers["event_id"]
    completed = [json.loads(r.value or b"") for r in events]
    assert [
        e["payload"]["round_id"] for e in completed if e["type"] == "matching.cohort_round_completed"
    ] == ["pilot-1"]
    assert "was replayed at" in again
    assert after["replayed_at"] is not None


async def test_replaying_all_twice_sends_each_dead_letter_back_once(
    infrastructure: Infrastructure, settings: MatchingSettings, operator: Operator
) -> None:
    for n in range(3):
        await operator("round", "--programme", "pilot", "--round-id", f"pilot-{n}")
    await dead_lettered(infrastructure, settings, 3)

    await operator("dlq", "replay", "--topic", "matching.commands.v1", "--partition", "0", "--offset", "1")
    dry = await operator.json("dlq", "replay", "--topic", "matching.commands.v1", "--all", "--dry-run")
    after_dry_run = await read_all(infrastructure.kafka_bootstrap, settings.topic(MATCHING_COMMANDS.name))
    first = await operator.json("dlq", "replay", "--topic", "matching.commands.v1", "--all")
    second = await operator.json("dlq", "replay", "--topic", "matching.commands.v1", "--all")
    waiting = await operator.json("dlq", "list", "--waiting")
    commands = await read_all(infrastructure.kafka_bootstrap, settings.topic(MATCHING_COMMANDS.name))

    dead_letter_topic = settings.topic(MATCHING_COMMANDS.dead_letter)
    assert [r["replay_of"] for r in dry] == [f"{dead_letter_topic}:0:0", f"{dead_letter_topic}:0:2"]
    assert len(after_dry_run) == 4  # three originals, one single replay
    assert [r["replay_of"] for r in first] == [r["replay_of"] for r in dry]
    assert second == []
    assert waiting == []
    replays = sorted(r.headers["replay.of"] for r in commands if "replay.of" in r.headers)
    assert replays == [f"{dead_letter_topic}:0:{offset}" for offset in (0, 1, 2)]


async def test_status_shows_the_lag_of_a_group_behind_the_dead_letters_waiting_and_readiness(
    infrastructure: Infrastructure, settings: MatchingSettings, operator: Operator
) -> None:
    await operator("round", "--programme", "pilot", "--round-id", "pilot-0")
    await dead_lettered(infrastructure, settings, 1)
    for n in (1, 2):  # sent while matching is down
        await operator("round", "--programme", "pilot", "--round-id", f"pilot-{n}")

    behind = await operator.json(
        "status", "--service", "matching", "--service-url", "matching=http://127.0.0.1:1", expect=1
    )
    async with serving(settings) as url:
        code, output = await operator.as_process(
            "status", "--service", "matching", "--service-url", f"matching={url}", "--json"
        )
    ready: dict[str, Any] = json.loads(output) if code == 0 else {}

    group = settings.consumer_group
    commands = [r for r in behind["lag"] if r["group"] == group and r["topic"] == "matching.commands.v1"]
    assert len(commands) == MATCHING_COMMANDS.partitions
    assert sum(r["lag"] for r in commands) == 2
    assert {r["topic"] for r in behind["lag"]} == {
        "profile.events.v1",
        "matching.commands.v1",
        "scheduling.events.v1",
    }
    depth = {d["topic"]: d for d in behind["dead_letters"]}
    assert depth["matching.commands.v1.dlq"]["records"] == 1
    assert depth["matching.commands.v1.dlq"]["waiting"] == 1
    assert depth["profile.events.v1.dlq"]["records"] == 0
    assert behind["ready"] is False
    assert behind["services"][0]["error"] == "unreachable (ConnectError)"
    assert code == 0, output
    assert ready["ready"] is True
    assert ready["services"][0]["checks"] == {"kafka": True, "mongo": True}


async def test_a_round_sent_with_fairness_spreads_mentees_over_mentors_at_some_cost_in_score(
    infrastructure: Infrastructure, settings: MatchingSettings, operator: Operator
) -> None:
    matching = Matching(infrastructure, settings)
    async with running(definition, settings):
        # M-STAR covers the goal better for both mentees and has room for both.
        await matching.profile(mentor("M-STAR", capacity=2, skills=[{"name": "kafka", "level": "expert"}]))
        await matching.profile(mentor("M-STEADY", capacity=2, skills=[{"name": "kafka", "level": "working"}]))
        growth: dict[str, Any] = {"goals": ["kafka"], "level": "mid", "programmes": ["career-growth"]}
        for person in ("G-1", "G-2"):
            await matching.profile(snapshot(person, **growth))
        await matching.handled_everything_on(PROFILE_EVENTS.name)
    await operator("round", "--programme", "career-growth", "--fairness", "1", "--round-id", "fair-1")
    async with running(definition, settings):
        events = await matching.events(3)

    proposals = [e["payload"] for e in events if e["type"] == "matching.match_proposed"]
    scores = {p["mentor_id"]: p["score"] for p in proposals}
    assert sorted(p["mentor_id"] for p in proposals) == ["M-STAR", "M-STEADY"]
    assert scores["M-STEADY"] < scores["M-STAR"]  # both with M-STAR would score more in total


async def test_a_test_onboarding_event_becomes_a_profile(
    infrastructure: Infrastructure, namespace: str, operator: Operator
) -> None:
    said = await operator(
        "emit-onboarding", "--employee-id", "OPS-1", "--team", "payments",
        "--time-zone", "America/New_York", "--skill", "python:expert", "--programme", "onboarding",
    )  # fmt: skip
    profile_settings = settings_for(ProfileSettings, infrastructure, namespace)
    async with running(profile_definition, profile_settings):
        (created,) = await wait_for_records(
            infrastructure.kafka_bootstrap, profile_settings.topic(PROFILE_EVENTS.name), lambda r: len(r) >= 1
        )

    snapshot = json.loads(created.value or b"")["payload"]
    assert "employee OPS-1" in said
    assert created.key == b"OPS-1"
    assert (snapshot["person_id"], snapshot["team"], snapshot["time_zone"]) == (
        "OPS-1", "payments", "America/New_York",
    )  # fmt: skip
    assert snapshot["skills"] == [{"name": "python", "level": "expert"}]


async def test_a_notification_dead_letter_replayed_retries_the_failed_delivery_and_nothing_else(
    infrastructure: Infrastructure, namespace: str, operator: Operator
) -> None:
    async with running_receiver() as receiver:
        async with notification_service(infrastructure, namespace, receiver) as notification:
            eve = notification.person("EVE", channels=("teams",))
            fay = notification.person("FAY", channels=("email",))
            hook = notification.hook("EVE", "teams")
            receiver.respond(hook, 400)  # refused: not retried, dead-lettered
            await notification.profiles(eve, fay)
            await notification.publish(proposal("FAY", "EVE"))
            await notification.dead_letters(MatchProposed, 1)
            await notification.mailpit.wait_for(notification.address("FAY"), 1)
        receiver.respond(hook, 200)  # the receiver's owner fixed it

        (listed,) = await operator.json("dlq", "list", "--service", "notification")
        replayed = await operator.json(
            "dlq", "replay", "--topic", "matching.events.v1", "--all", "--service", "notification"
        )
        async with notification_service(infrastructure, namespace, receiver) as notification:
            delivered = await notification.chat("EVE", "teams", 1)
            await notification.handled_everything_on(MatchProposed)
            outcomes = await notification.all_outcomes()
            mails = await notification.mailpit.inbox(notification.address("FAY"))

    assert listed["event_type"] == "matching.match_proposed"
    assert listed["service"] == "notification"
    assert [r["replay_of"] for r in replayed] == [f"{namespace}.matching.events.v1.dlq:0:{listed['offset']}"]
    assert len(delivered) == 1
    assert receiver.calls[hook] == 2  # the refusal, then the replay
    eve_teams = [o["type"] for o in outcomes if o["payload"]["recipient_id"] == "EVE"]
    assert eve_teams == ["notification.failed", "notification.delivered"]
    assert len(mails) == 1  # FAY's email was not sent again


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@asynccontextmanager
async def serving(settings: MatchingSettings) -> AsyncIterator[str]:
    """The matching service's HTTP app on a real port, consumers running."""
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(definition, settings), host="127.0.0.1", port=port, log_config=None, lifespan="on"
        )
    )
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not task.done(), "the server stopped before it started"
            await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
