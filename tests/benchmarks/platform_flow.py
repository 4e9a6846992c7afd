"""`make bench`: onboarding events through the whole platform, to the first notification
delivered, beside a raw aiokafka consume-and-produce relay on the same broker in the same run.

    python -m tests.benchmarks.platform_flow [--hires N] [--steady-rate R] [--steady-seconds S]

All five services run as their own processes (as `make run` starts them) in a namespace of
their own. Staff and mentors are set up first and not timed. Then two runs, each with new
people: a roll-out (every onboarding event at once; the figure is the sustained rate from the
first event sent to the last person's first notification) and a steady stream at a fixed rate
(the figures are the median and 99th percentile latency from sending an onboarding event to
the new hire's first notification delivered, matched by correlation id). While they run, each
service's consumer lag is sampled; the service with the deepest backlog is the bottleneck.

The baseline relays the same number of messages from one topic to another (consume, produce
with acks=all, commit after each), at the same pace, and is measured the same way.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import time
import uuid
from collections.abc import Callable, Coroutine
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from contracts.catalogue import NOTIFICATION_EVENTS
from deploy.local.chat_receiver import running_receiver
from deploy.local.demo.fleet import Fleet, start_fleet, wait_ready
from deploy.local.demo.organisation import Message, demo_organisation
from deploy.local.demo.run import DemoOptions, Endpoints, caught_up, service_env
from deploy.operator.kafka import connected
from deploy.operator.settings import OperatorSettings
from deploy.operator.status import lag_of
from deploy.services import SERVICES
from services.runtime.settings import KafkaSettings
from tests.support.infrastructure import Infrastructure, provide


@dataclass
class Run:
    name: str
    sent_at: dict[str, float] = field(default_factory=dict)
    arrived_at: dict[str, float] = field(default_factory=dict)
    peak_lag: dict[str, int] = field(default_factory=dict)

    @property
    def latencies_ms(self) -> list[float]:
        return sorted(
            (self.arrived_at[k] - self.sent_at[k]) * 1000 for k in self.arrived_at if k in self.sent_at
        )

    @property
    def rate(self) -> float:
        if not self.arrived_at:
            return 0.0
        return len(self.arrived_at) / (max(self.arrived_at.values()) - min(self.sent_at.values()))

    def percentile(self, p: float) -> float:
        values = self.latencies_ms
        return values[min(len(values) - 1, math.ceil(p * len(values)) - 1)] if values else float("nan")


async def _send_paced(
    producer: AIOKafkaProducer, items: list[tuple[str, str, bytes, str]], rate: float, run: Run
) -> None:
    """Send (topic, key, value, id) items at ``rate`` per second (0: as fast as possible)."""
    began = time.perf_counter()
    for index, (topic, key, value, item_id) in enumerate(items):
        if rate:
            await asyncio.sleep(max(0.0, began + index / rate - time.perf_counter()))
        run.sent_at[item_id] = time.perf_counter()
        await producer.send(topic, value, key=key.encode())
    await producer.flush()


async def _collect(
    consumer: AIOKafkaConsumer, run: Run, expected: int, id_of: Callable[[bytes], str | None]
) -> None:
    while len(run.arrived_at) < expected:
        batches = await consumer.getmany(timeout_ms=500)
        now = time.perf_counter()
        for records in batches.values():
            for record in records:
                item_id = id_of(record.value or b"")
                if item_id and item_id in run.sent_at and item_id not in run.arrived_at:
                    run.arrived_at[item_id] = now


async def _sample_lag(options: DemoOptions, bootstrap: str, run: Run) -> None:
    settings = OperatorSettings(kafka=KafkaSettings(bootstrap_servers=bootstrap, topic_prefix=options.prefix))
    while True:
        with suppress(Exception):  # a sample that fails is skipped, the run goes on
            async with connected(settings) as kafka:
                backlog: dict[str, int] = {}
                for row in await lag_of(kafka, SERVICES):
                    service = row.group.removeprefix(options.prefix)
                    backlog[service] = backlog.get(service, 0) + row.lag
                for service, waiting in backlog.items():
                    run.peak_lag[service] = max(run.peak_lag.get(service, 0), waiting)
        await asyncio.sleep(2)


def _first_notification(value: bytes) -> str | None:
    event = json.loads(value)
    return str(event["correlation_id"]) if event.get("type") == "notification.delivered" else None


async def _measure(
    name: str,
    bootstrap: str,
    out_topic: str,
    items: list[tuple[str, str, bytes, str]],
    rate: float,
    id_of: Callable[[bytes], str | None],
    lag: Callable[[Run], Coroutine[Any, Any, None]] | None = None,
    timeout: float = 1800,
) -> Run:
    run = Run(name)
    consumer = AIOKafkaConsumer(out_topic, bootstrap_servers=bootstrap, auto_offset_reset="latest")
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5)
    await consumer.start()
    await producer.start()
    sampler = asyncio.create_task(lag(run)) if lag else None
    try:
        await consumer.getmany(timeout_ms=1000)  # join: positions are at the end before anything is sent
        collector = asyncio.create_task(_collect(consumer, run, len(items), id_of))
        await _send_paced(producer, items, rate, run)
        with suppress(TimeoutError):
            await asyncio.wait_for(collector, timeout)
        return run
    finally:
        if sampler:
            sampler.cancel()
        await producer.stop()
        await consumer.stop()


async def _relay(bootstrap: str, source: str, target: str, count: int) -> None:
    consumer = AIOKafkaConsumer(
        source,
        bootstrap_servers=bootstrap,
        group_id=f"relay-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await consumer.start()
    await producer.start()
    try:
        passed = 0
        async for record in consumer:
            await producer.send_and_wait(target, record.value, key=record.key)
            await consumer.commit()
            passed += 1
            if passed == count:
                return
    finally:
        await producer.stop()
        await consumer.stop()


async def baseline(infra: Infrastructure, count: int, rate: float) -> Run:
    tag = uuid.uuid4().hex[:8]
    source, target = f"bench-{tag}.in", f"bench-{tag}.out"
    items = [(source, f"k{i}", json.dumps({"id": f"{tag}-{i}"}).encode(), f"{tag}-{i}") for i in range(count)]
    relay = asyncio.create_task(_relay(infra.kafka_bootstrap, source, target, count))
    await asyncio.sleep(0)
    name = f"raw aiokafka relay, {'all at once' if not rate else f'{rate:.0f}/s'} (baseline)"
    run = await _measure(name, infra.kafka_bootstrap, target, items, rate, lambda v: str(json.loads(v)["id"]))
    relay.cancel()
    with suppress(asyncio.CancelledError):
        await relay  # lets it stop its clients
    return run


def _hires(messages: list[Message], options: DemoOptions) -> list[tuple[str, str, bytes, str]]:
    return [
        (options.topic(m.topic), m.key, json.dumps(m.body).encode(), str(m.body["event_id"]))
        for m in messages
    ]


async def platform(infra: Infrastructure, hires: int, steady_rate: float, steady_seconds: float) -> list[Run]:
    options = DemoOptions(namespace=f"bench{uuid.uuid4().hex[:8]}", port_base=28100)
    servers = Endpoints(
        kafka=infra.kafka_bootstrap,
        mongo=infra.mongo_url,
        smtp_host=infra.smtp_host,
        smtp_port=infra.smtp_port,
        mailpit=infra.mailpit_api,
        logs=Path(".stack/logs/bench"),
    )
    async with running_receiver() as chat:
        return await _platform(infra, options, servers, chat.url(""), hires, steady_rate, steady_seconds)


async def _platform(
    infra: Infrastructure,
    options: DemoOptions,
    servers: Endpoints,
    chat_url: str,
    hires: int,
    steady_rate: float,
    steady_seconds: float,
) -> list[Run]:
    steady = int(steady_rate * steady_seconds)
    # Staff make up two in five of the organisation; new hires beyond the two runs are not sent.
    org = demo_organisation(int((hires + steady) / 0.6) + 1, chat_url, datetime.now(UTC), seed=11)
    fleet: Fleet = start_fleet({}, service_env(options, servers), servers.logs, options.ports)
    try:
        await asyncio.to_thread(wait_ready, fleet)
        producer = AIOKafkaProducer(
            bootstrap_servers=infra.kafka_bootstrap, acks="all", enable_idempotence=True
        )
        await producer.start()
        for stage in (org.staff, org.volunteers):
            for m in stage:
                await producer.send(options.topic(m.topic), json.dumps(m.body).encode(), key=m.key.encode())
            await producer.flush()
            while not await caught_up(options, infra.kafka_bootstrap):  # noqa: ASYNC110 - polls the broker
                await asyncio.sleep(1)
        await producer.stop()
        out = options.topic(NOTIFICATION_EVENTS.name)

        def lag(run: Run) -> Coroutine[Any, Any, None]:
            return _sample_lag(options, infra.kafka_bootstrap, run)

        rollout = await _measure(
            "platform roll-out, all at once: onboarding to first notification",
            infra.kafka_bootstrap,
            out,
            _hires(org.new_hires[:hires], options),
            0,
            _first_notification,
            lag,
        )
        stream = await _measure(
            f"platform steady {steady_rate:.0f}/s: onboarding to first notification",
            infra.kafka_bootstrap,
            out,
            _hires(org.new_hires[hires : hires + steady], options),
            steady_rate,
            _first_notification,
            lag,
        )
        return [rollout, stream]
    finally:
        await asyncio.to_thread(fleet.stop)


def _report(runs: list[Run]) -> None:
    print(f"{'run':72} {'people':>7} {'reached':>8} {'per s':>7} {'p50 ms':>8} {'p99 ms':>8}")
    for run in runs:
        print(
            f"{run.name:72} {len(run.sent_at):7} {len(run.arrived_at):8} {run.rate:7.1f} "
            f"{run.percentile(0.5):8.0f} {run.percentile(0.99):8.0f}"
        )
    for run in runs:
        if run.peak_lag:
            worst = max(run.peak_lag, key=lambda s: run.peak_lag[s])
            lags = ", ".join(f"{s} {n}" for s, n in sorted(run.peak_lag.items()))
            print(f"{run.name}: peak consumer lag per service: {lags}; bottleneck: {worst}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench-platform-flow")
    parser.add_argument("--hires", type=int, default=500, help="new hires in the all-at-once roll-out")
    parser.add_argument("--steady-rate", type=float, default=100, help="onboarding events per second")
    parser.add_argument("--steady-seconds", type=float, default=10, help="how long the steady stream lasts")
    args = parser.parse_args(argv)
    with provide() as infra:
        print(f"servers: {infra.origin}")
        runs = [
            asyncio.run(baseline(infra, args.hires, 0)),
            asyncio.run(baseline(infra, int(args.steady_rate * args.steady_seconds), args.steady_rate)),
        ]
        runs += asyncio.run(platform(infra, args.hires, args.steady_rate, args.steady_seconds))
    _report(runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
