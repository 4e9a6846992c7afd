"""`make demo-once` as a user runs it: the whole platform, a small organisation, a summary."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path

from tests.support.infrastructure import Infrastructure


def _free_port_block(size: int) -> int:
    """The first of ``size`` consecutive ports nobody listens on."""
    for base in range(21000, 31000, 97):
        try:
            for port in range(base, base + size):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no block of free ports")


async def test_the_one_shot_demo_runs_every_service_and_its_summary_matches_the_stores(
    infrastructure: Infrastructure, namespace: str, tmp_path: Path
) -> None:
    mailpit = infrastructure.mailpit_api.removesuffix("/api/v1").removesuffix("/")
    env = {
        **os.environ,
        "MENTORSHIP_KAFKA__BOOTSTRAP_SERVERS": infrastructure.kafka_bootstrap,
        "MENTORSHIP_MONGO__URL": infrastructure.mongo_url,
        "NOTIFICATION_SMTP__HOST": infrastructure.smtp_host,
        "NOTIFICATION_SMTP__PORT": str(infrastructure.smtp_port),
        "DEMO_MAILPIT_URL": mailpit,
        "DEMO_LOG_DIR": str(tmp_path),
    }
    arguments = ["--once", "--people", "24", "--namespace", namespace, "--chat-port", "0"]
    arguments += ["--port-base", str(_free_port_block(5)), "--instances", "matching=2"]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "deploy.local.demo",
        *arguments,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=900)
    text = output.decode(errors="replace")

    assert process.returncode == 0, text[-6000:]
    assert "The demo went through." in text
    summary = text[text.index("Demo summary") :]
    for line in (
        "people profiled",
        "mentorships proposed",
        "sessions completed",
        "notifications delivered",
        "badges",
    ):
        row = next(r for r in summary.splitlines() if line in r)
        cells = [c.strip() for c in row.split("│") if c.strip()]
        # what the events say, what the store holds, and "ok": some of each, and the same
        assert cells[1] == cells[2] and int(cells[1]) > 0 and cells[3] == "ok", row
    # Both matching instances did work in one consumer group.
    assert len(list(tmp_path.glob("matching-*.log"))) == 2
