"""A service on a secured stack: Kafka whose only client listener is SASL_SSL with SCRAM-SHA-512,
and FerretDB that asks every command for a SCRAM-SHA-256 login. Both run for this module on
ports of their own, beside (never instead of) the shared plaintext stack, configured through
the same ``STACK_*`` settings a developer would use; the service is configured through its
environment like a deployed one."""

from __future__ import annotations

import asyncio
import json
import secrets
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError
from pydantic import SecretStr
from pymongo import AsyncMongoClient
from pymongo.errors import OperationFailure
from typer.testing import CliRunner

from contracts.catalogue import PROFILE_EVENTS
from deploy.local import stack
from deploy.operator.cli import app as operator_cli
from services.profile.app import ProfileSettings, definition
from services.runtime.kafka_login import KafkaLoginRefused
from services.runtime.service import running
from tests.support.kafka import wait_for_records

SECURED_SERVERS = (stack.KAFKA, stack.FERRETDB)


@dataclass(frozen=True)
class SecuredStack:
    settings: stack.StackSettings

    @property
    def bootstrap(self) -> str:
        return f"{self.settings.host}:{self.settings.kafka_port}"

    @property
    def ca_file(self) -> Path:
        return self.settings.tls / "ca.pem"

    @property
    def kafka_password(self) -> str:
        return self.settings.kafka_sasl_password.get_secret_value()

    @property
    def mongo_password(self) -> str:
        return self.settings.mongo_password.get_secret_value()

    def service_environment(self, namespace: str, **overrides: str) -> dict[str, str]:
        """What an operator would set for the profile service to use this stack."""
        return {
            "PROFILE_KAFKA__BOOTSTRAP_SERVERS": self.bootstrap,
            "PROFILE_KAFKA__SECURITY_PROTOCOL": "SASL_SSL",
            "PROFILE_KAFKA__SASL_MECHANISM": "SCRAM-SHA-512",
            "PROFILE_KAFKA__SASL_USERNAME": self.settings.kafka_sasl_username,
            "PROFILE_KAFKA__SASL_PASSWORD": self.kafka_password,
            "PROFILE_KAFKA__SSL_CAFILE": str(self.ca_file),
            "PROFILE_KAFKA__TOPIC_PREFIX": f"{namespace}.",
            "PROFILE_MONGO__URL": self.settings.mongo_url(),
            "PROFILE_MONGO__USERNAME": self.settings.mongo_username,
            "PROFILE_MONGO__PASSWORD": self.mongo_password,
            "PROFILE_MONGO__DATABASE": namespace,
            "PROFILE_MONGO__SERVER_SELECTION_TIMEOUT_MS": "5000",
            **overrides,
        }

    def mongo_client(self) -> AsyncMongoClient[dict[str, Any]]:
        return AsyncMongoClient(
            self.settings.mongo_url(),
            username=self.settings.mongo_username,
            password=self.mongo_password,
            authSource="admin",
        )


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredStack]:
    kafka_port, controller_port, mongo_port = _free_ports(3)
    settings = stack.StackSettings(
        mode="local",
        home=tmp_path_factory.mktemp("secured-stack"),
        # The jars and the FerretDB binary of the plaintext stack: nothing to provision again.
        build_home=stack.StackSettings(mode="local").build,
        kafka_port=kafka_port,
        kafka_controller_port=controller_port,
        mongo_port=mongo_port,
        kafka_heap="384m",
        kafka_security="sasl_ssl",
        kafka_sasl_password=SecretStr(secrets.token_urlsafe(18)),
        mongo_auth=True,
        mongo_password=SecretStr(secrets.token_urlsafe(18)),
    )
    with stack.reporting_to(lambda line: None):
        stack.up(settings, SECURED_SERVERS)
    try:
        yield SecuredStack(settings)
    finally:
        with stack.reporting_to(lambda line: None):
            stack.down(settings, SECURED_SERVERS)


@pytest.fixture
def configure(monkeypatch: pytest.MonkeyPatch) -> Any:
    def apply(environment: dict[str, str]) -> ProfileSettings:
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        return ProfileSettings()

    return apply


@pytest.fixture
async def mongo(secured: SecuredStack) -> AsyncIterator[AsyncMongoClient[dict[str, Any]]]:
    client = secured.mongo_client()
    try:
        yield client
    finally:
        await client.close()


async def test_a_service_configured_for_sasl_ssl_and_a_mongo_login_profiles_an_onboarded_employee(
    secured: SecuredStack, namespace: str, configure: Any, mongo: AsyncMongoClient[dict[str, Any]]
) -> None:
    environment = secured.service_environment(namespace)
    settings = configure(environment)
    security = settings.kafka.security_protocol, settings.kafka.sasl_mechanism
    client_security = secured.settings.kafka_client_options()
    # The operator CLI reads the same variables under its own prefix, as a shell would have them.
    configure({name.replace("PROFILE_", "OPERATOR_", 1): value for name, value in environment.items()})
    emit = ["emit-onboarding", "--employee-id", "S100", "--time-zone", "Europe/Berlin"]

    async with running(definition, settings, startup_timeout=30):
        emitted = await asyncio.to_thread(CliRunner().invoke, operator_cli, emit)
        published = settings.topic(PROFILE_EVENTS.name)
        records = await wait_for_records(
            secured.bootstrap, published, lambda r: len(r) >= 1, security=client_security
        )
    stored = await mongo[namespace]["profiles"].find_one({"_id": "S100"})

    assert emitted.exit_code == 0, emitted.output
    assert security == ("SASL_SSL", "SCRAM-SHA-512")
    assert json.loads(records[0].value or b"")["type"] == "profile.created"
    assert stored is not None
    assert stored["snapshot"]["time_zone"] == "Europe/Berlin"


async def test_a_wrong_kafka_password_stops_the_service_at_once_with_an_error_that_does_not_show_it(
    secured: SecuredStack,
    namespace: str,
    configure: Any,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    wrong = f"not-{secured.kafka_password}"
    settings = configure(secured.service_environment(namespace, PROFILE_KAFKA__SASL_PASSWORD=wrong))

    with pytest.raises(KafkaLoginRefused) as refused:
        async with running(definition, settings, startup_timeout=60):
            pass

    message = str(refused.value)
    assert "refused the SASL login of user 'mentorship'" in message
    assert "kafka.sasl_password" in message
    printed = capfd.readouterr()
    for shown in (message, caplog.text, printed.out, printed.err):
        assert wrong not in shown
        assert secured.kafka_password not in shown


async def test_a_wrong_mongo_password_is_refused_and_not_shown(
    secured: SecuredStack,
    namespace: str,
    configure: Any,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    wrong = f"not-{secured.mongo_password}"
    settings = configure(secured.service_environment(namespace, PROFILE_MONGO__PASSWORD=wrong))

    with pytest.raises(OperationFailure) as refused:
        async with running(definition, settings, startup_timeout=30):
            pass

    assert refused.value.code == 18  # AuthenticationFailed
    printed = capfd.readouterr()
    for shown in (str(refused.value), repr(refused.value.details), caplog.text, printed.out, printed.err):
        assert wrong not in shown
        assert secured.mongo_password not in shown


async def test_a_plaintext_kafka_client_cannot_use_the_secured_listener(secured: SecuredStack) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=secured.bootstrap, request_timeout_ms=5000)
    try:
        with pytest.raises(KafkaConnectionError):
            await producer.start()
    finally:
        await producer.stop()


async def test_a_mongo_client_without_a_login_may_not_write(secured: SecuredStack, namespace: str) -> None:
    anonymous: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(secured.settings.mongo_url())
    try:
        with pytest.raises(OperationFailure) as refused:
            await anonymous[namespace]["profiles"].insert_one({"_id": "nobody"})
    finally:
        await anonymous.close()

    assert refused.value.code == 13  # Unauthorized: "Command insert requires authentication"
