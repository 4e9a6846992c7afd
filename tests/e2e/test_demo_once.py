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
    shown = (
        "people profiled",
        "mentorships proposed",
        "sessions completed",
        "notifications delivered",
        "badges",
    )
    for what in shown:
        row = next(r for r in summary.splitlines() if what in r)
        _, events, stored, verdict = (c.strip() for c in row.split("│") if c.strip())
        # Each flow happened, and what the events say is what the store holds.
        assert int(events) > 0, row
        assert events == stored, row
        assert verdict == "ok", row
    # Two matching instances ran side by side in one consumer group, each logging its work.
    logs = sorted(tmp_path.glob("matching-*.log"))  # noqa: ASYNC240 - a directory listing after the run
    assert [log.name for log in logs] == ["matching-1.log", "matching-2.log"]
    assert all(log.stat().st_size > 0 for log in logs)
