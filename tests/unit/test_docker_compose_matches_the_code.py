"""docker-compose.yml cannot run here, so a test keeps it in step with the code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from contracts.catalogue import TOPICS
from deploy.services import SERVICES

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def test_every_service_runs_from_the_shared_image_with_its_own_command_and_health_check() -> None:
    compose = _compose()["services"]
    for name, port in SERVICES.items():
        assert name in compose, f"{name} is missing from docker-compose.yml"
        service = compose[name]
        assert service["command"] == ["python", "-m", f"services.{name}"]
        assert service["build"]["dockerfile"] == "deploy/Dockerfile"
        assert "/health/ready" in " ".join(service["healthcheck"]["test"])
        assert str(port) in service["environment"][f"{name.upper()}_HTTP_PORT"]


def test_the_servers_have_health_checks_and_are_bound_to_loopback() -> None:
    compose = _compose()["services"]
    for server in ("kafka", "mongo", "mailpit"):
        assert "healthcheck" in compose[server]
        assert all(port.startswith("127.0.0.1:") for port in compose[server]["ports"])
    assert "--replSet" in compose["mongo"]["command"]


def test_the_topic_step_creates_every_registry_topic_with_its_partitions_and_dead_letter_topic() -> None:
    script = _compose()["services"]["topics"]["command"][0]
    for spec in TOPICS:
        assert f"{spec.name}:{spec.partitions}" in script, f"{spec.name} is missing from the topics step"
    assert '"$$name.dlq"' in script
