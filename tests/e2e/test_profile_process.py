"""The profile service as operators run it: its own process, configured by environment
variables, driven only through Kafka and HTTP, stopped with SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from contracts.catalogue import HR_EMPLOYEES
from tests.e2e.processes import TOKEN, RunningService, service_process
from tests.support.builders import onboarding_json
from tests.support.infrastructure import Infrastructure
from tests.support.kafka import produce
from tests.support.waiting import eventually


@pytest.fixture
async def profile_process(
    infrastructure: Infrastructure, namespace: str, tmp_path: Path
) -> AsyncIterator[RunningService]:
    async with service_process("profile", infrastructure, namespace, tmp_path) as service:
        yield service


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
