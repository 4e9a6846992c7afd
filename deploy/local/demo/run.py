"""The demo's course: servers up, the organisation fed in stages, people answering, a live view."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import ConsumerRecord
from rich.console import Console
from rich.live import Live

from contracts.catalogue import TOPICS
from contracts.topics import DLQ_SUFFIX
from deploy.local import stack
from deploy.local.chat_receiver import ChatReceiver, running_receiver
from deploy.local.demo.fleet import Fleet, start_fleet, wait_ready
from deploy.local.demo.live import summary_table, view
from deploy.local.demo.organisation import Message, Organisation, demo_organisation
from deploy.local.demo.people import People
from deploy.local.demo.stores import compare
from deploy.local.demo.tally import Tally
from deploy.operator.kafka import connected
from deploy.operator.settings import OperatorSettings
from deploy.operator.status import lag_of
from deploy.services import SERVICES
from services.runtime.settings import KafkaSettings

# The read APIs refuse personal data without a token; the demo's services run with a known one.
DEMO_TOKEN = "demo-token"
STAGE_TIMEOUT = 180.0


@dataclass(frozen=True)
class DemoOptions:
    people: int = 200
    once: bool = False
    instances: dict[str, int] = field(default_factory=dict)
    namespace: str = ""
    chat_port: int = 8030
    port_base: int | None = None
    settle_seconds: float = 10.0
    deadline_seconds: float = 900.0

    @property
    def ports(self) -> dict[str, int]:
        if self.port_base is None:
            return dict(SERVICES)
        return {name: self.port_base + index for index, name in enumerate(SERVICES)}

    @property
    def prefix(self) -> str:
        """Prepended to topics and consumer groups, as the services' topic_prefix setting."""
        return f"{self.namespace}." if self.namespace else ""

    def topic(self, name: str) -> str:
        return self.prefix + name

    def database(self, service: str) -> str:
        return f"{self.namespace}_{service}" if self.namespace else f"mentorship_{service}"


@dataclass(frozen=True)
class Endpoints:
    """Where the servers are: the local stack's ports, or servers named in the environment
    (the same ``MENTORSHIP_*`` and ``NOTIFICATION_SMTP__*`` variables the services read)."""

    kafka: str
    mongo: str
    smtp_host: str
    smtp_port: int
    mailpit: str
    logs: Path

    @property
    def external(self) -> bool:
        return "MENTORSHIP_KAFKA__BOOTSTRAP_SERVERS" in os.environ

    @classmethod
    def from_environment(cls, settings: stack.StackSettings) -> Endpoints:
        env = os.environ.get
        return cls(
            kafka=env("MENTORSHIP_KAFKA__BOOTSTRAP_SERVERS", f"{settings.host}:{settings.kafka_port}"),
            mongo=env("MENTORSHIP_MONGO__URL", f"mongodb://{settings.host}:{settings.mongo_port}/"),
            smtp_host=env("NOTIFICATION_SMTP__HOST", settings.host),
            smtp_port=int(env("NOTIFICATION_SMTP__PORT", str(settings.smtp_port))),
            mailpit=env("DEMO_MAILPIT_URL", f"http://{settings.host}:{settings.mailpit_http_port}"),
            logs=Path(env("DEMO_LOG_DIR", str(settings.logs / "demo"))),
        )


@dataclass
class Demo:
    options: DemoOptions
    bootstrap: str
    fleet: Fleet
    receiver: ChatReceiver
    tally: Tally = field(default_factory=Tally)
    stage: str = "starting"
    producer: AIOKafkaProducer | None = None
    later: set[asyncio.Task[None]] = field(default_factory=set)

    async def send(self, messages: Iterable[Message]) -> None:
        assert self.producer is not None
        for message in messages:
            if message.not_before is not None and message.not_before > datetime.now(UTC):
                task = asyncio.create_task(self._send_later(message, message.not_before))
                self.later.add(task)
                task.add_done_callback(self.later.discard)
                continue
            await self.producer.send(
                self.options.topic(message.topic), json.dumps(message.body).encode(), key=message.key.encode()
            )
        await self.producer.flush()

    async def _send_later(self, message: Message, at: datetime) -> None:
        await asyncio.sleep((at - datetime.now(UTC)).total_seconds())
        await self.send([replace(message, not_before=None)])

    async def until(self, what: str, done: Callable[[], Awaitable[bool]]) -> None:
        self.stage = what
        deadline = time.monotonic() + STAGE_TIMEOUT
        while not await done():
            if time.monotonic() > deadline:
                self.tally.recent.append(f"gave up waiting: {what}")
                return
            await asyncio.sleep(0.5)

    def caused(self, messages: list[Message]) -> Callable[[], Awaitable[bool]]:
        """Every message was handled: an event names it as its cause."""
        ids = {str(m.body["event_id"]) for m in messages}

        async def handled() -> bool:
            return ids <= self.tally.causes

        return handled

    async def feed(self, org: Organisation) -> None:
        """Staff, then volunteers (they change profiles that must exist), then new hires."""
        await self.send(org.staff)
        await self.until(f"{len(org.staff)} staff profiles", self.caused(org.staff))
        await self.send(org.volunteers)
        await self.until(f"{len(org.mentors)} mentors volunteering", self.caused(org.volunteers))
        await self.matching_knows_everyone()
        await self.send(org.early_requests)
        await self.until("an advisory board", self.caused(org.early_requests))
        await self.send(org.new_hires)
        await self.until(f"{len(org.new_hires)} new hires onboarded", self.caused(org.new_hires))
        await self.send(org.hire_profiles)
        await self.until("new hires setting goals and preferences", self.caused(org.hire_profiles))
        await self.matching_knows_everyone()
        await self.send(org.activities)
        await self.until("office hours, a talk, a reverse mentorship, circles", self.caused(org.activities))
        await self.send(org.rounds)
        await self.until("a peer circles round", self.caused(org.rounds))
        self.stage = "people meeting their mentors"

    async def matching_knows_everyone(self) -> None:
        """Requests name people matching must already know: let it read every profile first."""
        matching_read_all = functools.partial(caught_up, self.options, self.bootstrap, ["matching"])
        await self.until("matching reading every profile", matching_read_all)

    async def watch(self, consumer: AIOKafkaConsumer, people: People) -> None:
        while True:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    await self._on_record(record, people)

    async def _on_record(self, record: ConsumerRecord[bytes, bytes], people: People) -> None:
        if record.topic.endswith(DLQ_SUFFIX):
            headers = {k: v.decode("utf-8", "replace") for k, v in record.headers}
            self.tally.add_dead_letter(
                record.topic, f"{record.partition}:{record.offset}", headers.get("dlq.reason", "?")
            )
            return
        try:
            event = json.loads(record.value or b"")
        except ValueError:
            return
        if self.tally.add(event):
            await self.send(people.react(event, datetime.now(UTC)))

    def where(self, servers: Endpoints) -> list[str]:
        ports = self.options.ports
        return [
            f"Mailpit inbox: {servers.mailpit}",
            f"Chat messages: http://127.0.0.1:{self.receiver.port}/received",
            f"Matches: curl -H 'Authorization: Bearer {DEMO_TOKEN}' "
            f"http://127.0.0.1:{ports['matching']}/people/H0001/matches",
            f"Sessions: curl -H 'Authorization: Bearer {DEMO_TOKEN}' "
            f"http://127.0.0.1:{ports['scheduling']}/people/H0001/sessions",
            f"Leaderboard: curl http://127.0.0.1:{ports['recognition']}/leaderboards",
            f"Service logs: {servers.logs}",
        ]


def _watched_topics(options: DemoOptions) -> str:
    """Every event topic and every dead-letter topic of the registry, in this namespace."""
    names = [spec.name for spec in TOPICS if ".events." in spec.name]
    names += [spec.name + DLQ_SUFFIX for spec in TOPICS]
    return "^(" + "|".join(re.escape(options.topic(n)) for n in names) + ")$"


def service_env(options: DemoOptions, servers: Endpoints) -> dict[str, str]:
    env = {
        "MENTORSHIP_KAFKA__BOOTSTRAP_SERVERS": servers.kafka,
        "MENTORSHIP_MONGO__URL": servers.mongo,
        "MENTORSHIP_LOG_FORMAT": "json",
        "MENTORSHIP_API_TOKEN": os.environ.get("MENTORSHIP_API_TOKEN", DEMO_TOKEN),
        "NOTIFICATION_SMTP__HOST": servers.smtp_host,
        "NOTIFICATION_SMTP__PORT": str(servers.smtp_port),
        # The local chat receiver is no Slack: no need to hold messages to Slack's pace.
        "NOTIFICATION_RATE_LIMITS_PER_SECOND": json.dumps(
            {"slack": 50, "teams": 50, "webhook": 50, "email": 50}
        ),
    }
    if options.namespace:
        env["MENTORSHIP_KAFKA__TOPIC_PREFIX"] = options.prefix
        env |= {f"{name.upper()}_MONGO__DATABASE": options.database(name) for name in SERVICES}
    return env


async def run_demo(options: DemoOptions, servers: Endpoints, console: Console) -> int:
    bootstrap = servers.kafka
    async with running_receiver(options.chat_port) as receiver:
        console.print(f"Chat receiver on http://127.0.0.1:{receiver.port}; starting the services...")
        fleet = start_fleet(options.instances, service_env(options, servers), servers.logs, options.ports)
        try:
            await asyncio.to_thread(wait_ready, fleet)
            demo = Demo(options, bootstrap, fleet, receiver)
            return await _drive(demo, servers, console)
        finally:
            console.print("Stopping the services...")
            await asyncio.to_thread(fleet.stop)


async def _drive(demo: Demo, servers: Endpoints, console: Console) -> int:
    options = demo.options
    org = demo_organisation(options.people, f"http://127.0.0.1:{demo.receiver.port}", datetime.now(UTC))
    people = People(new_hires=[m.key for m in org.new_hires])
    demo.producer = AIOKafkaProducer(bootstrap_servers=demo.bootstrap, acks="all", enable_idempotence=True)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=demo.bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        metadata_max_age_ms=2000,
    )
    consumer.subscribe(pattern=_watched_topics(options))
    await demo.producer.start()
    await consumer.start()
    watcher = asyncio.create_task(demo.watch(consumer, people))
    feeder = asyncio.create_task(demo.feed(org))
    where = demo.where(servers)
    try:
        with Live(
            view(demo.tally, demo.fleet, demo.stage, where), console=console, refresh_per_second=2
        ) as live:
            started = time.monotonic()
            last_total, quiet_since = -1, time.monotonic()
            while True:
                await asyncio.sleep(0.5)
                if watcher.done():
                    watcher.result()  # the watcher failed: say why
                live.update(view(demo.tally, demo.fleet, demo.stage, where))
                if demo.tally.total != last_total:
                    last_total, quiet_since = demo.tally.total, time.monotonic()
                quiet = time.monotonic() - quiet_since > options.settle_seconds
                # Quiet is not enough on a busy machine: every service must have read everything.
                settled = (
                    feeder.done() and not demo.later and quiet and await caught_up(options, demo.bootstrap)
                )
                if options.once and (settled or time.monotonic() - started > options.deadline_seconds):
                    break
    finally:
        for task in (watcher, feeder, *demo.later):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await consumer.stop()
        await demo.producer.stop()
    lines = await compare(demo.tally, servers.mongo, options.database)
    console.print(summary_table(lines, demo.tally))
    for line in where:
        console.print(f"  {line}")
    ok = (
        all(line.agrees for line in lines)
        and demo.tally.dead_letter_total == 0
        and demo.tally.count("profile.created") >= len(org.people)
    )
    console.print("The demo went through." if ok else "[bold red]The demo did not go through as expected.[/]")
    return 0 if ok else 1


async def caught_up(options: DemoOptions, bootstrap: str, services: Iterable[str] = SERVICES) -> bool:
    """The services' consumer groups have handled everything published to what they read
    (measured as the operator CLI's ``status`` measures lag)."""
    kafka_settings = KafkaSettings(bootstrap_servers=bootstrap, topic_prefix=options.prefix)
    async with connected(OperatorSettings(kafka=kafka_settings)) as kafka:
        return all(row.lag == 0 for row in await lag_of(kafka, services))
