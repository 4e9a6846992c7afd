"""The profile service as operators run it: its own process, configured by environment
variables, driven only through Kafka and HTTP, stopped with SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from contracts.catalogue import HR_EMPLOYEES
from tests.support.builders import onboarding_json
from tests.support.infrastructure import Infrastructure
from tests.support.kafka import produce
from tests.support.waiting import eventually

TOKEN = "e2e-token"


@dataclass
class RunningService:
    process: subprocess.Popen[bytes]
    http: httpx.AsyncClient
    log: Path

    def log_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.startswith("{")]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
async def profile_process(
    infrastructure: Infrastructure, namespace: str, tmp_path: Path
) -> AsyncIterator[RunningService]:
    port = _free_port()
    env = {
        **os.environ,
        "MENTORSHIP_KAFKA__BOOTSTRAP_SERVERS": infrastructure.kafka_bootstrap,
        "MENTORSHIP_KAFKA__TOPIC_PREFIX": f"{namespace}.",
        "MENTORSHIP_MONGO__URL": infrastructure.mongo_url,
        "PROFILE_MONGO__DATABASE": namespace,
        "PROFILE_HTTP_PORT": str(port),
        "PROFILE_API_TOKEN": TOKEN,
        "PROFILE_LOG_FORMAT": "json",
    }
    log = tmp_path / "profile.log"
    with log.open("w") as out:
        # Popen returns at once; the child runs on its own and is not awaited here.
        process = subprocess.Popen(  # noqa: ASYNC220
            [sys.executable, "-m", "services.profile"], env=env, stdout=out, stderr=out
        )
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
        service = RunningService(process, http, log)

        async def ready() -> bool:
            try:
                return (await http.get("/health/ready")).status_code == 200
            except httpx.TransportError:
                return False

        try:
            await eventually(ready, timeout=60, what="the service reporting ready")
            yield service
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


async def test_a_new_hire_sent_to_the_inbound_topic_can_be_read_back_from_the_running_service(
    infrastructure: Infrastructure, namespace: str, profile_process: RunningService
) -> None:
    event = onboarding_json("E2E-1", team="security", time_zone="America/Sao_Paulo")
    topic = f"{namespace}.{HR_EMPLOYEES.name}"
    await produce(infrastructure.kafka_bootstrap, topic, json.dumps(event).encode(), key=b"E2E-1")
    auth = {"Authorization": f"Bearer {TOKEN}"}

    async def visible() -> bool:
        return (await profile_process.http.get("/profiles/E2E-1", headers=auth)).status_code == 200

    await eventually(visible, what="the profile served over HTTP")
    profile = (await profile_process.http.get("/profiles/E2E-1", headers=auth)).json()

    assert (profile["team"], profile["time_zone"], profile["status"]) == (
        "security",
        "America/Sao_Paulo",
        "active",
    )
    changed = [line for line in profile_process.log_lines() if line.get("event") == "profile changed"]
    assert changed[0]["correlation_id"] == event["event_id"]
    assert event["payload"]["work_email"] not in profile_process.log.read_text()
    assert event["payload"]["full_name"] not in profile_process.log.read_text()


async def test_the_service_finishes_its_work_and_exits_cleanly_on_sigterm(
    profile_process: RunningService,
) -> None:
    profile_process.process.send_signal(signal.SIGTERM)
    code = await _wait_exit(profile_process.process)

    # uvicorn re-raises the signal after its graceful shutdown, so the exit status is -SIGTERM;
    # what matters is that consumers and connections were closed first.
    assert code in (0, -signal.SIGTERM)
    assert any(line.get("event") == "service stopped" for line in profile_process.log_lines())


async def _wait_exit(process: subprocess.Popen[bytes]) -> int | None:
    await eventually(lambda: process.poll() is not None, timeout=30, what="the process exiting")
    return process.returncode
