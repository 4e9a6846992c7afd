"""The platform's processes for the suite: each service started, killed, restarted, scaled out
and in on demand, all configured for one namespace on the suite's own stack."""

from __future__ import annotations

import asyncio
import json
import signal
from dataclasses import dataclass, field
from pathlib import Path

from deploy.local.demo.fleet import INSTANCE_PORT_STEP, Fleet, Instance, start_instance, wait_ready
from deploy.local.demo.run import DemoOptions, Endpoints, service_env
from deploy.services import SERVICES
from tests.support.infrastructure import Infrastructure

PORT_BASE = 28200
TOKEN = "reliability-token"


def platform_env(options: DemoOptions, infra: Infrastructure, logs: Path) -> dict[str, str]:
    servers = Endpoints(
        kafka=infra.kafka_bootstrap,
        mongo=infra.mongo_url,
        smtp_host=infra.smtp_host,
        smtp_port=infra.smtp_port,
        mailpit=infra.mailpit_api,
        logs=logs,
    )
    return service_env(options, servers) | {
        "MENTORSHIP_API_TOKEN": TOKEN,
        # A burst of a few hundred messages: the chat receiver and Mailpit need no pacing, and
        # a retry should come back within the run.
        "NOTIFICATION_RATE_LIMITS_PER_SECOND": json.dumps({}),
        "NOTIFICATION_SWEEP_SECONDS": "0.5",
        "NOTIFICATION_DELIVERY_RETRY__BACKOFF_INITIAL_SECONDS": "0.5",
        "NOTIFICATION_DELIVERY_RETRY__BACKOFF_MAX_SECONDS": "2",
    }


@dataclass
class Processes:
    """Every instance the suite started (live or not), so each is stopped at the end."""

    env: dict[str, str]
    logs: Path
    ports: dict[str, int] = field(default_factory=lambda: {n: PORT_BASE + i for i, n in enumerate(SERVICES)})
    fleet: Fleet = field(default_factory=Fleet)

    def live(self, service: str) -> list[Instance]:
        return [i for i in self.fleet.instances if i.service == service and i.alive]

    def _start(self, service: str, number: int) -> Instance:
        port = self.ports[service] + INSTANCE_PORT_STEP * (number - 1)
        instance = start_instance(service, number, port, self.env, self.logs)
        self.fleet.instances.append(instance)
        return instance

    async def ready(self, *instances: Instance, timeout: float = 180) -> None:
        await asyncio.to_thread(wait_ready, Fleet(list(instances)), timeout)

    async def start_all(self) -> None:
        await self.ready(*(self._start(service, 1) for service in SERVICES))

    async def kill(self, service: str) -> Instance:
        """SIGKILL, as a crashed machine or the OOM killer would: no shutdown code runs."""
        victim = self.live(service)[0]
        victim.process.send_signal(signal.SIGKILL)
        await asyncio.to_thread(victim.process.wait)
        return victim

    async def restart(self, victim: Instance) -> None:
        """A new process in the place of one that died (same instance number and port)."""
        await self.ready(self._start(victim.service, victim.number))

    async def scale_out(self, service: str) -> Instance:
        numbers = {i.number for i in self.live(service)}
        number = next(n for n in range(1, 100) if n not in numbers)
        instance = self._start(service, number)
        await self.ready(instance)
        return instance

    async def scale_in(self, service: str) -> None:
        """The oldest live instance leaves as an orchestrator scales in: SIGTERM, and it finishes."""
        leaving = self.live(service)[0]
        leaving.process.send_signal(signal.SIGTERM)
        await asyncio.to_thread(leaving.process.wait, 60)

    def stop(self) -> None:
        self.fleet.stop()
