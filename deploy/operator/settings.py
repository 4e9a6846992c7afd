"""Where the operator finds Kafka and the services: the same variables the services read."""

from __future__ import annotations

from pydantic import Field

from deploy.services import SERVICES
from services.runtime.settings import ServiceSettings

LOCAL_HOST = "127.0.0.1"


class OperatorSettings(ServiceSettings):
    """Read like a service's settings (``OPERATOR_…`` beats ``MENTORSHIP_…``), so a shell with
    the platform's variables reaches the same cluster, security and topic prefix as the
    services do."""

    service_name: str = "operator"
    service_urls: dict[str, str] = Field(
        default_factory=dict,
        description="Base URL per service (OPERATOR_SERVICE_URLS__PROFILE=http://…); "
        "the default is the service's port on this machine.",
    )
    http_timeout_seconds: float = Field(default=3.0, gt=0)

    def service_url(self, service: str) -> str:
        return self.service_urls.get(service) or f"http://{LOCAL_HOST}:{SERVICES[service]}"

    def group_of(self, service: str) -> str:
        """The consumer group a service's replicas share, named as the service names it."""
        return self.model_copy(update={"service_name": service}).consumer_group

    def logical(self, topic: str) -> str:
        """A physical topic name without this deployment's prefix, as the registry names it."""
        prefix = self.kafka.topic_prefix
        return topic[len(prefix) :] if prefix and topic.startswith(prefix) else topic
