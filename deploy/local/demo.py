"""`make run`: the local stack, the services as separate processes, and a demo organisation.

    python -m deploy.local.demo [--once] [--people N]

Starts the local stack unless it is already up, starts each service that exists so far as
its own process, feeds a demo organisation through the inbound HR topic, and prints what
the platform publishes as it happens. It runs until interrupted (``--once``: until the demo
has gone through, then prints a summary and exits), and stops whatever it started.

Demo events have deterministic ids, so running the demo again changes nothing twice.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from deploy.local import stack
from deploy.services import SERVICES

NAMESPACE = uuid.UUID("0b6f5f1e-4a53-4d8f-9c1e-5d7e2f1a9c33")
# The read APIs refuse personal data without a token; the demo runs with a known one.
DEMO_TOKEN = "demo-token"

TEAMS = ("payments", "platform", "mobile", "data", "security", "growth", "design", "support")
TIME_ZONES = (
    "Europe/Berlin",
    "Europe/London",
    "America/New_York",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Australia/Sydney",
    "Africa/Lagos",
)
SKILLS = ("python", "kafka", "kubernetes", "react", "sql", "security", "ux-research", "leadership", "go")
FIRST = ("Ada", "Grace", "Alan", "Katherine", "Linus", "Margaret", "Tim", "Radia", "Ken", "Barbara", "Dennis")
LAST = ("Lovelace", "Hopper", "Turing", "Johnson", "Torvalds", "Hamilton", "Berners", "Perlman", "Liskov")


@dataclass(frozen=True)
class DemoSettings:
    bootstrap: str
    people: int
    seed: int = 7


def demo_organisation(people: int, seed: int = 7) -> list[dict[str, object]]:
    """Onboarding events for a made-up organisation, the same for the same seed."""
    rng = random.Random(seed)
    start = date(2026, 12, 1)
    events: list[dict[str, object]] = []
    for index in range(people):
        employee_id = f"D{index:04d}"
        event_id = str(uuid.uuid5(NAMESPACE, f"onboarded:{employee_id}"))
        events.append(
            {
                "event_id": event_id,
                "type": "employee.onboarded",
                "version": 1,
                "source": "demo-hr",
                "occurred_at": datetime(2026, 11, 1, tzinfo=UTC).isoformat(),
                "payload": {
                    "employee_id": employee_id,
                    "full_name": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                    "work_email": f"{employee_id.lower()}@demo.example",
                    "start_date": (start + timedelta(days=rng.randint(0, 30))).isoformat(),
                    "title": rng.choice(("Engineer", "Senior Engineer", "Designer", "Analyst", "Manager")),
                    "team": rng.choice(TEAMS),
                    "time_zone": rng.choice(TIME_ZONES),
                    "skills": [
                        {"name": s, "level": rng.choice(("learning", "working", "proficient", "expert"))}
                        for s in rng.sample(SKILLS, k=rng.randint(1, 4))
                    ],
                },
            }
        )
    return events


def mentor_commands(onboarding: list[dict[str, object]], seed: int = 7) -> list[dict[str, object]]:
    """Every fourth person volunteers as a mentor (capacity 1 to 3) with a few goals of their own."""
    rng = random.Random(seed + 1)
    commands: list[dict[str, object]] = []
    for event in onboarding[::4]:
        payload = event["payload"]
        assert isinstance(payload, dict)
        person_id = str(payload["employee_id"])
        commands.append(
            {
                "event_id": str(uuid.uuid5(NAMESPACE, f"mentor:{person_id}")),
                "type": "profile.update",
                "source": "demo-web",
                "occurred_at": datetime(2026, 11, 2, tzinfo=UTC).isoformat(),
                "payload": {
                    "person_id": person_id,
                    "mentor": {"opted_in": True, "capacity": rng.randint(1, 3)},
                    "languages": ["en"],
                    "availability": [
                        {"weekday": day, "start": "09:00", "end": "12:00"} for day in ("tuesday", "thursday")
                    ],
                },
            }
        )
    return commands


def _wait_http(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as response:
            if response.status == 200:
                return
        time.sleep(0.5)
    raise stack.StackError(f"{url} did not become ready within {timeout:.0f}s")


def start_services(log_dir: str) -> list[subprocess.Popen[bytes]]:
    processes = []
    for name, port in SERVICES.items():
        prefix = name.upper()
        env = {
            **os.environ,
            f"{prefix}_HTTP_PORT": str(port),
            f"{prefix}_LOG_FORMAT": "json",
            f"{prefix}_API_TOKEN": os.environ.get(f"{prefix}_API_TOKEN", DEMO_TOKEN),
        }
        log = open(os.path.join(log_dir, f"{name}.log"), "ab")  # noqa: SIM115 - closed with the process
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", f"services.{name}"], env=env, stdout=log, stderr=subprocess.STDOUT
            )
        )
        print(f"  {name}: pid {processes[-1].pid}, http://127.0.0.1:{port}/health/ready, log {log.name}")
    for port in SERVICES.values():
        _wait_http(f"http://127.0.0.1:{port}/health/ready", 120)
    return processes


async def feed(bootstrap: str, topic: str, key_field: str, events: list[dict[str, object]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for event in events:
            payload = event["payload"]
            assert isinstance(payload, dict)
            await producer.send(topic, json.dumps(event).encode(), key=str(payload[key_field]).encode())
        await producer.flush()
    finally:
        await producer.stop()


async def watch(bootstrap: str, expected: int, once: bool) -> Counter[str]:
    """Print platform events as they arrive; with ``once``, stop when the demo went through."""
    consumer = AIOKafkaConsumer(
        "profile.events.v1",
        "matching.events.v1",
        "scheduling.events.v1",
        "notification.events.v1",
        "hr.employees.v1.dlq",
        "profile.commands.v1.dlq",
        bootstrap_servers=bootstrap,
        group_id=f"demo-watch-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    seen: Counter[str] = Counter()
    shown: Counter[str] = Counter()
    last_print = last_event = time.monotonic()
    try:
        deadline = time.monotonic() + 300
        while not once or not _settled(seen, expected, last_event, deadline):
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    kind = dict(record.headers).get("event_type", b"?").decode()
                    seen["dead letters" if record.topic.endswith(".dlq") else kind] += 1
                    last_event = time.monotonic()
            # At most once a second, and only when something happened.
            if seen != shown and time.monotonic() - last_print > 1:
                last_print, shown = time.monotonic(), seen.copy()
                print("  " + ", ".join(f"{k}: {v}" for k, v in sorted(seen.items())), flush=True)
    finally:
        await consumer.stop()
    return seen


async def _wait_for(bootstrap: str, topic: str, count: int, timeout: float = 300) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            await consumer._client.force_metadata_update()
            partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
            if partitions and sum((await consumer.end_offsets(partitions)).values()) >= count:
                return
            await asyncio.sleep(0.5)
    finally:
        await consumer.stop()


def _settled(seen: Counter[str], expected: int, last_event: float, deadline: float) -> bool:
    """Every profile exists and nothing has happened for a few seconds (or time is up)."""
    quiet = time.monotonic() - last_event > 5
    return (seen["profile.created"] >= expected and quiet) or time.monotonic() > deadline


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="demo", description="Run the platform with a demo organisation.")
    parser.add_argument("--once", action="store_true", help="exit with a summary once the demo went through")
    parser.add_argument("--people", type=int, default=200, help="size of the demo organisation")
    args = parser.parse_args(argv)

    settings = stack.StackSettings()
    started_stack = stack.status(settings) != 0
    if started_stack:
        stack.up(settings)
    bootstrap = f"{settings.host}:{settings.kafka_port}"
    settings.logs.mkdir(parents=True, exist_ok=True)
    print("Starting services...")
    processes = start_services(str(settings.logs))
    interrupted = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal interrupted
        interrupted = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        events = demo_organisation(args.people)
        mentors = mentor_commands(events)
        print(f"Feeding {len(events)} onboarding events into hr.employees.v1 ...")
        asyncio.run(feed(bootstrap, "hr.employees.v1", "employee_id", events))
        # People can only change a profile that exists: wait for the profiles first.
        asyncio.run(_wait_for(bootstrap, "profile.events.v1", len(events)))
        print(f"{len(mentors)} of them volunteer as mentors through profile.commands.v1 ...")
        asyncio.run(feed(bootstrap, "profile.commands.v1", "person_id", mentors))
        seen = asyncio.run(watch(bootstrap, len(events), args.once))
        print(f"Summary: {dict(seen)}")
        print(f"Mailpit inbox: http://{settings.host}:{settings.mailpit_http_port}")
        print(
            f"Profiles: curl -H 'Authorization: Bearer {DEMO_TOKEN}' "
            f"'http://127.0.0.1:{SERVICES['profile']}/profiles?skill=python&limit=5'"
        )
        ok = seen["profile.created"] >= len(events)
        return 0 if ok else 1
    except KeyboardInterrupt:
        print("Stopping...", flush=True)
        return 0
    finally:
        # A second Ctrl-C must not leave servers behind half-way through the clean-up.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        if started_stack:
            stack.down(settings)


if __name__ == "__main__":
    sys.exit(main())
