"""The whole platform for end-to-end tests: the five services as processes of their own in one
namespace, a chat receiver and Mailpit, and the public ways in and out of them.

Tests talk to it only as outside systems and people would: JSON onto the inbound HR topic and
the command topics, GET on the read APIs with the bearer token, mail read back from Mailpit and
chat messages from the receiver. Consumer-group offsets (what an operator's lag view shows) say
when a service has handled everything sent to it, for the steps that must wait on that.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from contracts.catalogue import HR_EMPLOYEES, PROFILE_COMMANDS, PROFILE_EVENTS, topic_of
from contracts.envelope import Envelope
from deploy.local.chat_receiver import ChatReceiver, running_receiver
from tests.e2e.processes import TOKEN, RunningService, service_process
from tests.support.builders import onboarding_json
from tests.support.infrastructure import Infrastructure
from tests.support.kafka import group_caught_up, produce
from tests.support.mailpit import Mail, Mailpit
from tests.support.waiting import eventually

SERVICES = ("profile", "matching", "scheduling", "notification", "recognition")
PROFILE_READERS = ("matching", "scheduling", "notification", "recognition")
CONTACT_URL_FIELD = {"slack": "slack_webhook_url", "teams": "teams_webhook_url", "webhook": "webhook_url"}


@dataclass(frozen=True)
class Employee:
    """Someone HR tells the platform about, and what they then set in their own profile.

    ``programmes`` None makes them a new hire in the onboarding programme (matched at once);
    anyone else names their programmes, so only a request or a round matches them.
    """

    person_id: str
    name: str
    time_zone: str = "Europe/Berlin"
    level: str = "mid"
    team: str = "payments"
    programmes: list[str] | None = None
    skills: list[dict[str, str]] = field(default_factory=list)
    interests: list[str] = field(default_factory=list)
    profile: dict[str, Any] = field(default_factory=dict)
    chat: tuple[str, ...] = ()
    """Chat channels (slack, teams, webhook) besides email, pointed at the chat receiver."""


class Platform:
    def __init__(
        self,
        infra: Infrastructure,
        namespace: str,
        services: dict[str, RunningService],
        receiver: ChatReceiver,
    ) -> None:
        self.infra = infra
        self.namespace = namespace
        self.services = services
        self.receiver = receiver
        self.mailpit = Mailpit(infra.mailpit_api)

    # ------------------------------------------------------------------ addresses

    def topic(self, name: str) -> str:
        return f"{self.namespace}.{name}"

    def address(self, person_id: str) -> str:
        """A work email no other test run shares (Mailpit is shared)."""
        return f"{person_id.lower()}.{self.namespace}@example.com"

    def hook(self, person_id: str, channel: str) -> str:
        return f"/{self.namespace}/{person_id}/{channel}"

    # ------------------------------------------------------------------ in

    async def send(self, topic_name: str, key: str, body: dict[str, Any]) -> None:
        """Plain JSON onto a topic, as a system outside the platform produces it."""
        await produce(
            self.infra.kafka_bootstrap, self.topic(topic_name), json.dumps(body).encode(), key.encode()
        )

    async def command(self, message: Envelope) -> None:
        """A command on its registry topic, keyed by its subject, as a front end sends it."""
        await produce(
            self.infra.kafka_bootstrap,
            self.topic(topic_of(type(message)).name),
            message.to_json_bytes(),
            key=message.subject.encode(),
            headers=message.headers(),
        )

    async def onboard(self, *people: Employee) -> dict[str, str]:
        """HR onboards everyone, then each sets their profile; returns the onboarding event id per
        person. Waits until every service that reads profiles has their final snapshots."""
        event_ids: dict[str, str] = {}
        for person in people:
            extra: dict[str, Any] = {"programmes": person.programmes} if person.programmes else {}
            event = onboarding_json(
                person.person_id,
                full_name=person.name,
                work_email=self.address(person.person_id),
                time_zone=person.time_zone,
                level=person.level,
                team=person.team,
                skills=person.skills,
                interests=person.interests,
                **extra,
            )
            event_ids[person.person_id] = event["event_id"]
            await self.send(HR_EMPLOYEES.name, person.person_id, event)
        # A command about a profile that does not exist yet is refused: wait for the profiles.
        await self.handled("profile", HR_EMPLOYEES.name)
        for person in people:
            changes = dict(person.profile)
            if person.chat:
                urls = {
                    CONTACT_URL_FIELD[c]: self.receiver.url(self.hook(person.person_id, c))
                    for c in person.chat
                }
                changes["contact"] = {"channels": ["email", *person.chat], **urls}
            if changes:
                await self.update_profile(person.person_id, **changes)
        await self.handled("profile", PROFILE_COMMANDS.name)
        await self.profiles_everywhere()
        return event_ids

    async def update_profile(self, person_id: str, **changes: Any) -> None:
        await self.send(
            PROFILE_COMMANDS.name,
            person_id,
            {
                "event_id": str(uuid.uuid4()),
                "type": "profile.update",
                "source": "web",
                "occurred_at": datetime.now(UTC).isoformat(),
                "payload": {"person_id": person_id, **changes},
            },
        )

    async def offboard(self, person_id: str) -> None:
        await self.send(
            HR_EMPLOYEES.name,
            person_id,
            {
                "event_id": str(uuid.uuid4()),
                "type": "employee.offboarded",
                "source": "workday",
                "occurred_at": datetime.now(UTC).isoformat(),
                "payload": {"employee_id": person_id},
            },
        )

    # ------------------------------------------------------------------ waiting

    async def handled(self, service: str, topic_name: str, timeout: float = 30.0) -> None:
        """Wait until ``service`` has handled (and committed) everything sent so far to a topic."""
        group, topic = self.topic(service), self.topic(topic_name)

        async def caught_up() -> bool:
            return await group_caught_up(self.infra.kafka_bootstrap, group, topic)

        await eventually(caught_up, timeout=timeout, what=f"{service} handling everything on {topic_name}")

    async def profiles_everywhere(self) -> None:
        await asyncio.gather(*(self.handled(service, PROFILE_EVENTS.name) for service in PROFILE_READERS))

    # ------------------------------------------------------------------ out

    async def get(self, service: str, path: str) -> Any:
        """GET on a service's read API with its bearer token."""
        response = await self.services[service].http.get(path, headers={"Authorization": f"Bearer {TOKEN}"})
        response.raise_for_status()
        return response.json()

    async def until(
        self, service: str, path: str, holds: Callable[[Any], bool], *, what: str, timeout: float = 30.0
    ) -> Any:
        """Poll a read API until its answer satisfies ``holds``; that answer."""
        seen: Any = None

        async def check() -> bool:
            nonlocal seen
            seen = await self.get(service, path)
            return holds(seen)

        try:
            await eventually(check, timeout=timeout, what=what)
        except AssertionError as error:
            raise AssertionError(f"{error}; last answer from {service} {path}: {seen}") from None
        return seen

    async def mail(self, person_id: str, subject: Callable[[str], bool], *, what: str) -> Mail:
        """The first mail to the person whose subject satisfies ``subject``."""
        found: list[Mail] = []

        async def arrived() -> bool:
            found[:] = [m for m in await self.mailpit.inbox(self.address(person_id)) if subject(m.subject)]
            return bool(found)

        await eventually(arrived, what=what)
        return found[0]

    async def chat(self, person_id: str, channel: str, holds: Callable[[Any], bool], *, what: str) -> Any:
        """The first chat message on the person's channel whose body satisfies ``holds``."""
        path = self.hook(person_id, channel)

        def bodies() -> list[Any]:
            return [d.body for d in self.receiver.on(path) if holds(d.body)]

        await eventually(lambda: bool(bodies()), what=what)
        return bodies()[0]

    def log_lines(self, service: str) -> list[dict[str, Any]]:
        return self.services[service].log_lines()


@asynccontextmanager
async def running_platform(
    infra: Infrastructure,
    namespace: str,
    logs: Path,
    receiver: ChatReceiver,
    more_env: dict[str, str] | None = None,
) -> AsyncIterator[Platform]:
    """The five services started side by side, each ready; all stopped at the end of the block.
    ``more_env`` goes to every service."""
    extra_env: dict[str, dict[str, str]] = {
        "notification": {
            "NOTIFICATION_SMTP__HOST": infra.smtp_host,
            "NOTIFICATION_SMTP__PORT": str(infra.smtp_port),
            # The flows send a few dozen chat messages within seconds; the limits are tested
            # elsewhere and would only make this run wait.
            "NOTIFICATION_RATE_LIMITS_PER_SECOND": "{}",
            "NOTIFICATION_SWEEP_SECONDS": "0.5",
            "NOTIFICATION_DELIVERY_RETRY__BACKOFF_INITIAL_SECONDS": "0.5",
            "NOTIFICATION_DELIVERY_RETRY__BACKOFF_MAX_SECONDS": "1",
        },
    }
    services: dict[str, RunningService] = {}
    async with AsyncExitStack() as stack:

        async def start(name: str) -> None:
            # Five processes importing and joining their consumer groups at once share two cores.
            env = {**(more_env or {}), **extra_env.get(name, {})}
            context = service_process(name, infra, namespace, logs, env, ready_timeout=180)
            services[name] = await stack.enter_async_context(context)

        # A task group: when one service fails to start, the others are stopped, not left behind.
        async with asyncio.TaskGroup() as group:
            for name in SERVICES:
                group.create_task(start(name))
        yield Platform(infra, namespace, services, receiver)


@asynccontextmanager
async def platform_for_module(
    infra: Infrastructure, tmp_path_factory: pytest.TempPathFactory, more_env: dict[str, str] | None = None
) -> AsyncIterator[Platform]:
    """The five services and a chat receiver for one test module, in a namespace of its own,
    with their logs in a fresh temporary folder."""
    namespace = f"t{uuid.uuid4().hex[:12]}"
    logs = tmp_path_factory.mktemp("service-logs")
    async with (
        running_receiver() as receiver,
        running_platform(infra, namespace, logs, receiver, more_env) as up,
    ):
        yield up
