"""How far behind the platform is, as the operator CLI's ``status`` measures it."""

from __future__ import annotations

from deploy.local.demo.run import DemoOptions
from deploy.operator.kafka import connected
from deploy.operator.settings import OperatorSettings
from deploy.operator.status import dead_letter_depths, lag_of
from deploy.services import SERVICES
from services.runtime.settings import KafkaSettings


def _settings(options: DemoOptions, bootstrap: str) -> OperatorSettings:
    return OperatorSettings(kafka=KafkaSettings(bootstrap_servers=bootstrap, topic_prefix=options.prefix))


async def backlog(options: DemoOptions, bootstrap: str) -> int:
    """Messages sent to the services and not yet handled (committed), over every group."""
    async with connected(_settings(options, bootstrap)) as kafka:
        return sum(row.lag for row in await lag_of(kafka, SERVICES))


async def dead_letters(options: DemoOptions, bootstrap: str) -> dict[str, int]:
    """Records in each dead-letter topic that holds any."""
    async with connected(_settings(options, bootstrap)) as kafka:
        return {d.topic: d.records for d in await dead_letter_depths(kafka) if d.records}
