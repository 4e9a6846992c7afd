"""Who the suite onboards and what they do: the messages outside systems and people send.

Mentors volunteer before any fault (setup). Each scenario's burst then brings, interleaved:
new hires (matched at once, or waitlisted when every seat is taken), staff who become mentors
mid-burst (they opt in as soon as their account exists, which fills the waitlist), and thanks
(kudos) from new hires to the first mentors (recognition points, and a notice to the mentor).
Every message has a deterministic id, so a message sent twice (a retry across a broker
restart) is a redelivery the services recognise, never a second person or a second thanks.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError

from contracts.catalogue import HR_EMPLOYEES, PROFILE_COMMANDS, PROFILE_EVENTS, RECOGNITION_COMMANDS
from contracts.envelope import deterministic_id
from deploy.local.demo.run import DemoOptions

CAPACITY = 2
CHAT_CHANNELS = ("slack", "teams", "webhook")
CONTACT_URL_FIELD = {"slack": "slack_webhook_url", "teams": "teams_webhook_url", "webhook": "webhook_url"}
OCCURRED = "2026-11-20T09:00:00+00:00"


@dataclass(frozen=True)
class Message:
    topic: str
    key: str
    body: dict[str, Any]

    @property
    def type(self) -> str:
        return str(self.body["type"])


def _message(topic: str, key: str, kind: str, payload: dict[str, Any], *id_parts: str) -> Message:
    body = {
        "event_id": deterministic_id("reliability", kind, *id_parts),
        "type": kind,
        "source": "reliability-suite",
        "occurred_at": OCCURRED,
        "payload": payload,
    }
    return Message(topic, key, body)


@dataclass
class Population:
    """Everyone the suite brings in, and how each person is reached (what the checks expect)."""

    namespace: str
    chat_url: str
    channels: dict[str, tuple[str, ...]] = field(default_factory=dict)
    mentees: list[str] = field(default_factory=list)
    capacity: dict[str, int] = field(default_factory=dict)
    kudos: dict[str, str] = field(default_factory=dict)  # kudos id -> mentor thanked
    late_mentors: set[str] = field(default_factory=set)

    def address(self, person_id: str) -> str:
        return f"{person_id.lower()}.{self.namespace}@example.com"

    def hook(self, person_id: str, channel: str) -> str:
        return f"/{self.namespace}/{person_id}/{channel}"

    def _onboarding(self, person_id: str, *, mentor: bool) -> Message:
        payload: dict[str, Any] = {
            "employee_id": person_id,
            "full_name": f"Person {person_id}",
            "work_email": self.address(person_id),
            "start_date": "2026-12-01",
            "level": "senior" if mentor else "junior",
            "team": "platform" if mentor else "payments",
            "time_zone": "Europe/Berlin",
            "skills": [{"name": "python", "level": "expert"}] if mentor else [],
        }
        if mentor:
            # Existing staff join a career programme; only new hires are matched on arrival.
            payload["programmes"] = ["career-growth"]
        self.channels[person_id] = ("email",)
        return _message(HR_EMPLOYEES.name, person_id, "employee.onboarded", payload, person_id)

    def _volunteering(self, person_id: str, chat: str | None) -> Message:
        self.capacity[person_id] = CAPACITY
        payload: dict[str, Any] = {
            "person_id": person_id,
            "languages": ["en"],
            "mentor": {"opted_in": True, "capacity": CAPACITY},
        }
        if chat:
            url = f"{self.chat_url}{self.hook(person_id, chat)}"
            payload["contact"] = {"channels": ["email", chat], CONTACT_URL_FIELD[chat]: url}
            self.channels[person_id] = ("email", chat)
        return _message(PROFILE_COMMANDS.name, person_id, "profile.update", payload, person_id, "volunteer")

    def setup_mentors(self, count: int) -> tuple[list[Message], list[Message]]:
        """Mentors who volunteer before the faults, each reached by email and one chat channel:
        their onboarding, then (once their profiles exist) their volunteering."""
        ids = [f"M{i:04d}" for i in range(count)]
        onboarding = [self._onboarding(p, mentor=True) for p in ids]
        volunteering = [self._volunteering(p, CHAT_CHANNELS[i % 3]) for i, p in enumerate(ids)]
        return onboarding, volunteering

    def burst(self, scenario: int, mentees: int) -> list[Message]:
        """One scenario's burst: new hires, a tenth as many staff who will volunteer, and a
        kudos from every third new hire to one of the first mentors, interleaved."""
        thanked = [p for p in self.capacity if p not in self.late_mentors]
        messages: list[Message] = []
        for i in range(mentees):
            mentee = f"H{scenario:02d}{i:04d}"
            self.mentees.append(mentee)
            messages.append(self._onboarding(mentee, mentor=False))
            if i % 10 == 5:
                mentor = f"L{scenario:02d}{i:04d}"
                self.late_mentors.add(mentor)
                messages.append(self._onboarding(mentor, mentor=True))
            if i % 3 == 1 and thanked:
                kudos_id = deterministic_id("reliability-kudos", mentee)
                to_id = thanked[i % len(thanked)]
                self.kudos[kudos_id] = to_id
                payload = {"kudos_id": kudos_id, "from_id": mentee, "to_id": to_id, "message": "Thank you!"}
                messages.append(
                    _message(RECOGNITION_COMMANDS.name, to_id, "recognition.give_kudos", payload, kudos_id)
                )
        return messages

    def late_volunteering(self, person_id: str) -> Message | None:
        """The opt-in of a staff member who joined in a burst (email only: their channels never
        change, so what they are told on is known whatever the order of events)."""
        return self._volunteering(person_id, None) if person_id in self.late_mentors else None


class Sender:
    """Sends as an outside system does: retries until the broker has it, through restarts."""

    def __init__(self, bootstrap: str, options: DemoOptions) -> None:
        self.bootstrap = bootstrap
        self.options = options
        self.producer: AIOKafkaProducer | None = None
        self.sent = 0

    async def _producer(self) -> AIOKafkaProducer:
        if self.producer is None:
            producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap,
                acks="all",
                enable_idempotence=True,
                request_timeout_ms=10000,
            )
            await producer.start()
            self.producer = producer
        return self.producer

    async def send(self, message: Message, give_up_after: float = 300) -> None:
        deadline = time.monotonic() + give_up_after
        value = json.dumps(message.body).encode()
        while True:
            try:
                producer = await self._producer()
                await producer.send_and_wait(
                    self.options.topic(message.topic), value, key=message.key.encode()
                )
                self.sent += 1
                return
            except KafkaError:
                if time.monotonic() > deadline:
                    raise
                await self.close()
                await asyncio.sleep(1)

    async def send_paced(self, messages: list[Message], seconds: float) -> None:
        began = time.monotonic()
        for index, message in enumerate(messages):
            await asyncio.sleep(max(0.0, began + index * seconds / len(messages) - time.monotonic()))
            await self.send(message)

    async def close(self) -> None:
        if self.producer is not None:
            with contextlib.suppress(Exception):
                await self.producer.stop()
            self.producer = None


async def volunteer_when_profiled(
    bootstrap: str, options: DemoOptions, sender: Sender, reaction: Callable[[str], Message | None]
) -> None:
    """People who just got their profile act on it (late mentors opt in): watch the profile
    events (across broker restarts, the consumer reconnects) and send each reaction once."""
    consumer = AIOKafkaConsumer(
        options.topic(PROFILE_EVENTS.name),
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        metadata_max_age_ms=2000,
    )
    await consumer.start()
    done: set[str] = set()
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    event = json.loads(record.value or b"{}")
                    person = str(event.get("subject"))
                    if event.get("type") != "profile.created" or person in done:
                        continue
                    message = reaction(person)
                    if message is not None:
                        done.add(person)
                        await sender.send(message)
    finally:
        await consumer.stop()
