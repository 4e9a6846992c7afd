"""Settings of the notification service (``NOTIFICATION_*`` beats ``MENTORSHIP_*``)."""

from __future__ import annotations

from datetime import time
from typing import Literal

from pydantic import BaseModel, Field, SecretStr

from contracts.profile import Channel
from services.runtime.settings import RetrySettings, ServiceSettings


class SmtpSettings(BaseModel):
    """The outgoing mail server."""

    host: str = "127.0.0.1"
    port: int = 1025
    # "starttls" upgrades a plain connection (port 587); "tls" is implicit TLS (port 465).
    security: Literal["none", "starttls", "tls"] = "none"
    username: str | None = None
    password: SecretStr | None = None
    from_address: str = "mentorship@example.com"
    from_name: str = "Mentorship"
    timeout_seconds: float = Field(default=15, gt=0)
    # Open connections kept to the server; messages on one connection go one after another.
    connections: int = Field(default=4, ge=1, le=64)
    ca_file: str | None = None


class LinkSettings(BaseModel):
    """Where the links in messages point (the people-facing web app)."""

    app_url: str = "http://localhost:8080"
    preferences_path: str = "/settings/notifications"


class DeliveryRetry(BaseModel):
    """How often a transient failure (timeout, 5xx, SMTP 4xx) is tried again, durably."""

    max_attempts: int = Field(default=6, ge=1, le=30)
    backoff_initial_seconds: float = Field(default=5, ge=0)
    backoff_max_seconds: float = Field(default=900, ge=0)

    def as_policy(self) -> RetrySettings:
        return RetrySettings(
            max_attempts=self.max_attempts,
            backoff_initial_seconds=self.backoff_initial_seconds,
            backoff_max_seconds=self.backoff_max_seconds,
        )


def _default_rates() -> dict[Channel, float]:
    # Slack allows about one message a second per incoming webhook; Teams a few; mail relays
    # typically throttle senders well below 100 messages a second.
    return {Channel.EMAIL: 20.0, Channel.SLACK: 1.0, Channel.TEAMS: 4.0, Channel.WEBHOOK: 20.0}


class NotificationSettings(ServiceSettings):
    service_name: str = "notification"
    http_port: int = 8104
    smtp: SmtpSettings = SmtpSettings()
    links: LinkSettings = LinkSettings()
    delivery_retry: DeliveryRetry = DeliveryRetry()
    http_timeout_seconds: float = Field(default=10, gt=0)
    rate_limits_per_second: dict[Channel, float] = Field(
        default_factory=_default_rates,
        description="Messages per second per channel and instance; 0 turns a channel's limit off.",
    )
    rate_limit_burst: int = Field(default=10, ge=1, description="Messages a quiet channel may send at once.")
    sweep_seconds: float = Field(default=5, gt=0, description="How often due retries and deferrals are sent.")
    digest_at: time = Field(
        default=time(9), description="Local time at which a person's daily digest goes out."
    )
    in_doubt_after_seconds: float = Field(
        default=120,
        gt=0,
        description="An attempt started this long ago without a recorded outcome was cut off by a crash.",
    )
    in_doubt_policy: Literal["hold", "resend"] = Field(
        default="resend",
        description=(
            "What happens to an attempt cut off mid-send: 'resend' sends again with the same message id "
            "and idempotency key (a crash nearly always lands before the provider accepted it); 'hold' "
            "never resends (the person may have it) and reports it for an operator to replay."
        ),
    )
    message_id_domain: str = "mentorship.local"
