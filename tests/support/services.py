"""Settings that point a service at the test servers, isolated by a namespace."""

from __future__ import annotations

from typing import TypeVar

from pydantic import SecretStr

from services.runtime.settings import KafkaSettings, MongoSettings, RetrySettings, ServiceSettings
from tests.support.infrastructure import Infrastructure

S = TypeVar("S", bound=ServiceSettings)


def settings_for(cls: type[S], infra: Infrastructure, namespace: str) -> S:
    """Settings of one service for one test: its own topics (prefix), group and database."""
    return cls(
        kafka=KafkaSettings(bootstrap_servers=infra.kafka_bootstrap, topic_prefix=f"{namespace}."),
        mongo=MongoSettings(url=SecretStr(infra.mongo_url), database=namespace),
        retry=RetrySettings(max_attempts=3, backoff_initial_seconds=0.05, backoff_max_seconds=0.2),
    )
