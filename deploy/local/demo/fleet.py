"""The services as separate processes, several instances of one where asked."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from deploy.services import SERVICES

# Extra instances of a service listen on its port plus a multiple of this.
INSTANCE_PORT_STEP = 10


@dataclass
class Instance:
    service: str
    number: int
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    @property
    def label(self) -> str:
        return f"{self.service}-{self.number}"


@dataclass
class Fleet:
    """Everything the demo started, so it can stop exactly that."""

    instances: list[Instance] = field(default_factory=list)

    def by_service(self) -> dict[str, list[Instance]]:
        grouped: dict[str, list[Instance]] = {name: [] for name in SERVICES}
        for instance in self.instances:
            grouped[instance.service].append(instance)
        return grouped

    def stop(self, timeout: float = 20) -> None:
        for instance in self.instances:
            if instance.alive:
                instance.process.terminate()
        deadline = time.monotonic() + timeout
        for instance in self.instances:
            try:
                instance.process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                instance.process.kill()
                instance.process.wait()


def start_instance(service: str, number: int, port: int, env: dict[str, str], log_dir: Path) -> Instance:
    """Start one process of ``service`` (instance ``number``, HTTP on ``port``), logging to ``log_dir``."""
    prefix = service.upper()
    service_env = {
        **os.environ,
        **env,
        f"{prefix}_HTTP_PORT": str(port),
        f"{prefix}_INSTANCE_ID": str(number),
    }
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"{service}-{number}.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", f"services.{service}"],
            env=service_env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Instance(service, number, port, process, log)


def start_fleet(
    instances: dict[str, int], env: dict[str, str], log_dir: Path, ports: dict[str, int] | None = None
) -> Fleet:
    """Start ``instances[name]`` processes of each service with ``env`` on top of ours."""
    fleet = Fleet()
    for name, base_port in (ports or SERVICES).items():
        for number in range(1, instances.get(name, 1) + 1):
            port = base_port + INSTANCE_PORT_STEP * (number - 1)
            fleet.instances.append(start_instance(name, number, port, env, log_dir))
    return fleet


def wait_ready(fleet: Fleet, timeout: float = 120) -> None:
    """Every instance answers ready, or the error says which did not and where its log is."""
    deadline = time.monotonic() + timeout
    pending = list(fleet.instances)
    while pending and time.monotonic() < deadline:
        for instance in list(pending):
            if not instance.alive:
                raise RuntimeError(f"{instance.label} exited during start-up; see {instance.log}")
            with contextlib.suppress(OSError):
                url = f"http://127.0.0.1:{instance.port}/health/ready"
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        pending.remove(instance)
        time.sleep(0.5)
    if pending:
        names = ", ".join(f"{i.label} (log {i.log})" for i in pending)
        raise RuntimeError(f"not ready within {timeout:.0f}s: {names}")
