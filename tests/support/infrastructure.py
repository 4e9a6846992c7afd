"""Finding (or starting) the real servers the integration and e2e tests talk to.

Order of preference, each checked for real before use:

1. environment variables (``TEST_KAFKA_BOOTSTRAP``, ``TEST_MONGO_URL``, ``TEST_SMTP_HOST``,
   ``TEST_SMTP_PORT``, ``TEST_MAILPIT_API``): servers someone else runs;
2. a local stack that is already up (``make stack-up``);
3. testcontainers, when a Docker engine answers and the images are already present;
4. otherwise the local stack is started for this test session, and stopped afterwards.

When none of these works the tests fail with the reason; they never skip.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

from deploy.local import stack

IMAGES = {
    "kafka": "apache/kafka:4.1.1",
    "mongo": "mongo:7.0",
    "mailpit": "axllent/mailpit:v1.27",
}


@dataclass(frozen=True)
class Infrastructure:
    kafka_bootstrap: str
    mongo_url: str
    smtp_host: str
    smtp_port: int
    mailpit_api: str
    origin: str


class InfrastructureUnavailable(RuntimeError):
    pass


def _all_answer(infra: Infrastructure) -> bool:
    return (
        stack.kafka_answers(infra.kafka_bootstrap)
        and stack.mongo_answers(infra.mongo_url)
        and stack.http_ok(f"{infra.mailpit_api}/readyz")
    )


def from_environment() -> Infrastructure | None:
    bootstrap = os.environ.get("TEST_KAFKA_BOOTSTRAP")
    if not bootstrap:
        return None
    infra = Infrastructure(
        kafka_bootstrap=bootstrap,
        mongo_url=os.environ.get("TEST_MONGO_URL", "mongodb://127.0.0.1:27017/"),
        smtp_host=os.environ.get("TEST_SMTP_HOST", "127.0.0.1"),
        smtp_port=int(os.environ.get("TEST_SMTP_PORT", "1025")),
        mailpit_api=os.environ.get("TEST_MAILPIT_API", "http://127.0.0.1:8025"),
        origin="environment",
    )
    if not _all_answer(infra):
        raise InfrastructureUnavailable(f"TEST_* variables are set but the servers do not answer: {infra}")
    return infra


def _local(settings: stack.StackSettings, origin: str) -> Infrastructure:
    return Infrastructure(
        kafka_bootstrap=f"{settings.host}:{settings.kafka_port}",
        mongo_url=f"mongodb://{settings.host}:{settings.mongo_port}/",
        smtp_host=settings.host,
        smtp_port=settings.smtp_port,
        mailpit_api=f"http://{settings.host}:{settings.mailpit_http_port}",
        origin=origin,
    )


def _docker_images_present() -> bool:
    import subprocess

    if not stack.docker_available():
        return False
    return all(
        subprocess.run(["docker", "image", "inspect", image], capture_output=True, check=False).returncode
        == 0
        for image in IMAGES.values()
    )


@contextmanager
def _containers() -> Iterator[Infrastructure]:
    from testcontainers.core.container import DockerContainer
    from testcontainers.kafka import KafkaContainer
    from testcontainers.mongodb import MongoDbContainer

    with ExitStack() as stack_:
        kafka = stack_.enter_context(KafkaContainer(IMAGES["kafka"]).with_kraft())
        mongo = stack_.enter_context(MongoDbContainer(IMAGES["mongo"]))
        mailpit = stack_.enter_context(DockerContainer(IMAGES["mailpit"]).with_exposed_ports(1025, 8025))
        host = mailpit.get_container_host_ip()
        yield Infrastructure(
            kafka_bootstrap=kafka.get_bootstrap_server(),
            mongo_url=mongo.get_connection_url(),
            smtp_host=host,
            smtp_port=int(mailpit.get_exposed_port(1025)),
            mailpit_api=f"http://{host}:{mailpit.get_exposed_port(8025)}",
            origin="testcontainers",
        )


@contextmanager
def provide(log: Callable[[str], None] = print) -> Iterator[Infrastructure]:
    """Yield reachable servers for a test session, cleaning up what it started."""
    found = from_environment()
    if found is not None:
        yield found
        return
    settings = stack.StackSettings(mode="local")
    local = _local(settings, "local stack (already running)")
    if _all_answer(local):
        yield local
        return
    if _docker_images_present():
        with _containers() as infra:
            yield infra
        return
    log("no servers found: starting the local stack for this test session")
    try:
        with stack.reporting_to(log):
            stack.up(settings)
    except stack.StackError as error:
        raise InfrastructureUnavailable(f"could not start the local stack: {error}") from error
    try:
        yield _local(settings, "local stack (started by the tests)")
    finally:
        with stack.reporting_to(log):
            stack.down(settings)
