"""The suite's course: its own stack, the platform's processes, mentors set up, then one burst
per fault with the fault injected mid-burst, and after each the invariants until they hold."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from deploy.local import stack
from deploy.local.chat_receiver import running_receiver
from deploy.local.demo.run import DemoOptions
from tests.reliability.burst import CAPACITY, Message, Population, Sender, volunteer_when_profiled
from tests.reliability.faults import FAULTS, Fault, Stage
from tests.reliability.fleet import Processes, platform_env
from tests.reliability.invariants import Check, Findings
from tests.reliability.progress import backlog
from tests.reliability.report import HEADER, Row
from tests.reliability.servers import HOME, infrastructure, own_stack


@dataclass(frozen=True)
class SuiteOptions:
    mentees: int = 40
    """New hires per burst (each fault has its own burst)."""
    burst_seconds: float = 20.0
    faults: tuple[str, ...] = tuple(FAULTS)
    down_seconds: float = 3.0
    """How long a killed service or a stopped server stays down."""
    catch_up_timeout: float = 240.0
    logs: Path = HOME / "logs" / "services"
    builds_from: Path | None = None
    home: Path = HOME
    """Where the suite's own stack keeps its builds, data and logs."""


@dataclass
class Suite:
    options: SuiteOptions
    say: Callable[[str], None] = print
    rows: list[Row] = field(default_factory=list)
    reported: Findings = field(default_factory=Findings)


async def _caught_up(
    stage: Stage, check: Check, timeout: float, reported: Findings
) -> tuple[float | None, Findings]:
    """Seconds from the fault until nothing waits and nothing is missing that was not reported
    missing after an earlier fault (None: not within ``timeout``), and the last look's findings."""
    assert stage.fault_at is not None
    deadline = time.monotonic() + timeout
    findings = Findings(lost={"not checked yet"})
    bootstrap = f"{stage.servers.host}:{stage.servers.kafka_port}"
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):  # a server still coming back: look again
            if await backlog(stage.options, bootstrap) == 0:
                findings = await check.run()
                if not findings.lost - reported.lost:
                    return time.monotonic() - stage.fault_at, findings
        await asyncio.sleep(1)
    return None, findings


async def _settle(options: DemoOptions, bootstrap: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while await backlog(options, bootstrap) > 0:
        if time.monotonic() > deadline:
            raise RuntimeError("the platform did not handle the setup messages in time")
        await asyncio.sleep(0.5)


async def _send_all(sender: Sender, messages: list[Message]) -> None:
    for message in messages:
        await sender.send(message)


def run_suite(suite: Suite) -> list[Row]:
    """Run every fault of the options in turn; the table's rows."""
    # The stack's start and stop wait on the servers with event loops of their own: outside ours.
    with own_stack(suite.options.builds_from, suite.options.home) as servers:
        asyncio.run(_run(suite, servers))
    return suite.rows


async def _run(suite: Suite, servers: stack.StackSettings) -> None:
    options = suite.options
    infra = infrastructure(servers)
    demo = DemoOptions(namespace=f"rel{uuid.uuid4().hex[:8]}")
    async with running_receiver() as receiver:
        population = Population(demo.namespace, f"http://127.0.0.1:{receiver.port}")
        processes = Processes(platform_env(demo, infra, options.logs), options.logs)
        sender = Sender(infra.kafka_bootstrap, demo)
        reactions = asyncio.create_task(
            volunteer_when_profiled(infra.kafka_bootstrap, demo, sender, population.late_volunteering)
        )
        try:
            began = time.monotonic()
            await processes.start_all()
            suite.say(f"platform started in {time.monotonic() - began:.0f}s (namespace {demo.namespace})")
            mentors = math.ceil(0.5 * options.mentees * len(options.faults) / CAPACITY)
            onboarding, volunteering = population.setup_mentors(mentors)
            await _send_all(sender, onboarding)
            await _settle(demo, infra.kafka_bootstrap)
            await _send_all(sender, volunteering)
            await _settle(demo, infra.kafka_bootstrap)
            suite.say(f"{mentors} mentors volunteered")
            suite.say(HEADER)
            check = Check(population, demo, infra, receiver)
            for index, name in enumerate(options.faults):
                row = await _scenario(
                    suite, index, FAULTS[name], processes, servers, demo, sender, population, check
                )
                suite.rows.append(row)
                suite.say(row.line())
        finally:
            reactions.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reactions
            await sender.close()
            await asyncio.to_thread(processes.stop)


async def _scenario(
    suite: Suite,
    index: int,
    fault: Fault,
    processes: Processes,
    servers: stack.StackSettings,
    demo: DemoOptions,
    sender: Sender,
    population: Population,
    check: Check,
) -> Row:
    options = suite.options
    messages = population.burst(index, options.mentees)
    stage = Stage(
        processes, servers, demo, sender, len(messages), options.down_seconds, sent_before=sender.sent
    )
    sending = asyncio.create_task(sender.send_paced(messages, options.burst_seconds))
    try:
        await fault.inject(stage)
        await sending
    except Exception as error:  # noqa: BLE001 - reported in the table, and the suite fails
        sending.cancel()
        return Row(fault.name, stage.in_flight, error=f"{type(error).__name__}: {error}")
    recovered, _ = await _caught_up(stage, check, options.catch_up_timeout, suite.reported)
    await asyncio.sleep(3)  # anything doubled late (a redelivery after a rebalance) shows up now
    findings = await check.run()
    row = Row(
        fault.name,
        stage.in_flight,
        lost=sorted(findings.lost - suite.reported.lost),
        doubled=sorted(findings.doubled - suite.reported.doubled),
        recovered_seconds=recovered,
    )
    suite.reported.lost |= findings.lost
    suite.reported.doubled |= findings.doubled
    return row
