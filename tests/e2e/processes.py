"""Starting platform services as their own processes for end-to-end tests."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.support.infrastructure import Infrastructure
from tests.support.waiting import eventually

TOKEN = "e2e-token"


@dataclass
class RunningService:
    name: str
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


@asynccontextmanager
async def service_process(
    name: str,
    infra: Infrastructure,
    namespace: str,
    logs: Path,
    extra_env: dict[str, str] | None = None,
    ready_timeout: float = 60,
) -> AsyncIterator[RunningService]:
    """Run ``python -m services.<name>`` configured only through environment variables, ready."""
    port = _free_port()
    prefix = name.upper()
    env = {
        **os.environ,
        "MENTORSHIP_KAFKA__BOOTSTRAP_SERVERS": infra.kafka_bootstrap,
        "MENTORSHIP_KAFKA__TOPIC_PREFIX": f"{namespace}.",
        "MENTORSHIP_MONGO__URL": infra.mongo_url,
        f"{prefix}_MONGO__DATABASE": f"{namespace}_{name}",
        f"{prefix}_HTTP_PORT": str(port),
        f"{prefix}_API_TOKEN": TOKEN,
        f"{prefix}_LOG_FORMAT": "json",
        **(extra_env or {}),
    }
    log = logs / f"{name}.log"
    with log.open("a") as out:
        # Popen returns at once; the child runs on its own and is not awaited here.
        process = subprocess.Popen(  # noqa: ASYNC220
            [sys.executable, "-m", f"services.{name}"], env=env, stdout=out, stderr=out
        )
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:

        async def ready() -> bool:
            try:
                return (await http.get("/health/ready")).status_code == 200
            except httpx.TransportError:
                return process.poll() is not None  # died: stop waiting, the assertion below says so

        try:
            await eventually(ready, timeout=ready_timeout, what=f"{name} reporting ready")
            assert process.poll() is None, f"{name} exited: {log.read_text()[-2000:]}"
            yield RunningService(name, process, http, log)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
