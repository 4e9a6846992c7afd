"""Service settings, read from the environment.

Every variable can be given per service (``PROFILE_KAFKA__BOOTSTRAP_SERVERS``) or once for
the whole platform (``MENTORSHIP_KAFKA__BOOTSTRAP_SERVERS``); the per-service value wins,
so an operator can point one service elsewhere without touching the others.
"""

from __future__ import annotations

from typing import Literal, TypeVar

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

PLATFORM_ENV_PREFIX = "MENTORSHIP_"


class KafkaSettings(BaseModel):
    """How to reach the Kafka cluster."""

    bootstrap_servers: str = "127.0.0.1:9092"
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: str | None = None
    # Prepended to every topic and consumer group; lets tests and parallel demos share
    # one broker without seeing each other's messages.
    topic_prefix: str = ""
    request_timeout_ms: int = 30_000
    # How often a consumer commits the offsets its handlers finished (each partition up to its
    # first unfinished record). A crash redelivers at most this much work, which idempotent
    # handlers absorb; each commit is one request to the broker per subscribed topic.
    commit_interval_ms: int = Field(default=200, ge=10, le=60_000)
    # Records fetched ahead per partition; a partition whose handler falls this far behind
    # stops being fetched until it caught up by half, so memory stays bounded.
    partition_buffer: int = Field(default=200, ge=1, le=100_000)


class MongoSettings(BaseModel):
    """How to reach the service's own database."""

    url: SecretStr = SecretStr("mongodb://127.0.0.1:27017/")
    database: str = ""
    server_selection_timeout_ms: int = 10_000


class RetrySettings(BaseModel):
    """Bounded in-process retries before a message is dead-lettered."""

    max_attempts: int = Field(default=4, ge=1, le=20)
    backoff_initial_seconds: float = Field(default=0.2, ge=0)
    backoff_max_seconds: float = Field(default=5.0, ge=0)


class MetricsSettings(BaseModel):
    """Prometheus metrics at ``GET /metrics``; off unless asked for."""

    enabled: bool = False


class TracingSettings(BaseModel):
    """OpenTelemetry spans per consumed and published message; off unless asked for."""

    enabled: bool = False
    exporter: Literal["otlp", "console"] = "otlp"
    # OTLP over HTTP, e.g. ``http://collector:4318/v1/traces``; unset falls back to the standard
    # ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_ENDPOINT`` variables.
    otlp_endpoint: str | None = None
    # Share of new traces kept; a trace that arrives sampled (or not) in a message stays so.
    sample_ratio: float = Field(default=1.0, ge=0.0, le=1.0)


class ServiceSettings(BaseSettings):
    """Settings shared by every service; a service may subclass to add its own."""

    model_config = SettingsConfigDict(env_nested_delimiter="__", extra="ignore")

    service_name: str = "service"
    instance_id: str = ""
    kafka: KafkaSettings = KafkaSettings()
    mongo: MongoSettings = MongoSettings()
    retry: RetrySettings = RetrySettings()
    metrics: MetricsSettings = MetricsSettings()
    tracing: TracingSettings = TracingSettings()
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    api_token: SecretStr | None = Field(
        default=None, description="Bearer token for HTTP APIs that return personal data; unset disables them."
    )
    log_format: Literal["auto", "console", "json"] = "auto"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        service_prefix = f"{_default_service_name(settings_cls).upper()}_"
        return (
            init_settings,
            EnvSettingsSource(settings_cls, env_prefix=service_prefix, env_nested_delimiter="__"),
            EnvSettingsSource(settings_cls, env_prefix=PLATFORM_ENV_PREFIX, env_nested_delimiter="__"),
            dotenv_settings,
            file_secret_settings,
        )

    @property
    def database_name(self) -> str:
        """The service's own database; defaults to one named after the service."""
        return self.mongo.database or f"mentorship_{self.service_name}"

    @property
    def consumer_group(self) -> str:
        """All replicas of a service share one group, so each event is handled once."""
        return f"{self.kafka.topic_prefix}{self.service_name}"

    @property
    def client_id(self) -> str:
        suffix = f"-{self.instance_id}" if self.instance_id else ""
        return f"{self.service_name}{suffix}"

    def topic(self, name: str) -> str:
        """The physical topic name for a logical topic of the registry."""
        return f"{self.kafka.topic_prefix}{name}"


def _default_service_name(settings_cls: type[BaseSettings]) -> str:
    field = settings_cls.model_fields["service_name"]
    return str(field.default)


S = TypeVar("S", bound=ServiceSettings)


def settings_as(settings: ServiceSettings, cls: type[S]) -> S:
    """A running service's settings as its own settings class; the defaults of that class when
    the runtime was started with the shared base settings (as some tests do)."""
    return settings if isinstance(settings, cls) else cls()
