"""The faults the suite injects in the middle of a burst, each a coroutine over a ``Stage``:
it waits until a share of the burst is sent, marks the moment of the fault (and how much was
in flight then), breaks something, and returns once the broken part is back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from deploy.local import stack
from deploy.local.demo.run import DemoOptions
from deploy.services import SERVICES
from tests.reliability.burst import Sender
from tests.reliability.fleet import Processes
from tests.reliability.progress import backlog


@dataclass
class Stage:
    """What a fault acts on, and what it records."""

    processes: Processes
    servers: stack.StackSettings
    options: DemoOptions
    sender: Sender
    burst_size: int
    down_seconds: float
    sent_before: int = 0
    fault_at: float | None = None
    in_flight: int = 0

    async def at(self, share: float) -> None:
        """Wait until ``share`` of this burst has been sent."""
        while self.sender.sent - self.sent_before < share * self.burst_size:  # noqa: ASYNC110 - polls a counter
            await asyncio.sleep(0.05)

    async def mark(self) -> None:
        """The fault happens now: keep the time, and the messages sent and not yet handled."""
        self.in_flight = await backlog(self.options, self.servers.host + f":{self.servers.kafka_port}")
        self.fault_at = time.monotonic()


Inject = Callable[[Stage], Awaitable[None]]


@dataclass(frozen=True)
class Fault:
    name: str
    inject: Inject


def crash(service: str) -> Fault:
    async def inject(stage: Stage) -> None:
        await stage.at(0.4)
        await stage.mark()
        victim = await stage.processes.kill(service)
        await asyncio.sleep(stage.down_seconds)
        await stage.processes.restart(victim)

    return Fault(f"kill -9 {service}", inject)


def server_restart(server: str, label: str) -> Fault:
    async def inject(stage: Stage) -> None:
        await stage.at(0.4)
        await stage.mark()
        await asyncio.to_thread(stack.stop_server, stage.servers, server)
        await asyncio.sleep(stage.down_seconds)
        await asyncio.to_thread(stack.start_server, stage.servers, server)

    return Fault(label, inject)


def scaling(*services: str) -> Fault:
    async def inject(stage: Stage) -> None:
        await stage.at(0.3)
        await stage.mark()
        await asyncio.gather(*(stage.processes.scale_out(s) for s in services))
        await stage.at(0.7)
        await asyncio.gather(*(stage.processes.scale_in(s) for s in services))

    return Fault(f"scale out+in {'+'.join(services)}", inject)


FAULTS: dict[str, Fault] = {
    **{f"crash-{service}": crash(service) for service in SERVICES},
    "broker": server_restart("kafka", "Kafka broker restart"),
    "database": server_restart("ferretdb", "FerretDB restart"),
    "scale": scaling("matching", "notification"),
}
