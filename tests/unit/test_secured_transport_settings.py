"""Kafka over SASL_SSL and Mongo with a login, as settings and as the local stack's configuration:
the secrets reach the clients and servers, and nothing prints them."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from pydantic import SecretStr

from deploy.local import stack
from services.runtime.broker import client_security_options, security_from
from services.runtime.settings import KafkaSettings, MongoSettings, ServiceSettings

pytestmark = pytest.mark.unit

KAFKA_SECRET = "kafka-secret-4f1c"
MONGO_SECRET = "mongo-secret-9b2e"


def _secured_settings(monkeypatch: pytest.MonkeyPatch) -> ServiceSettings:
    for name, value in {
        "MENTORSHIP_KAFKA__SECURITY_PROTOCOL": "SASL_SSL",
        "MENTORSHIP_KAFKA__SASL_MECHANISM": "SCRAM-SHA-512",
        "MENTORSHIP_KAFKA__SASL_USERNAME": "mentorship-profile",
        "MENTORSHIP_KAFKA__SASL_PASSWORD": KAFKA_SECRET,
        "MENTORSHIP_MONGO__URL": f"mongodb://profile:{MONGO_SECRET}@db.internal:27017/?authSource=admin",
        "MENTORSHIP_MONGO__USERNAME": "profile",
        "MENTORSHIP_MONGO__PASSWORD": MONGO_SECRET,
    }.items():
        monkeypatch.setenv(name, value)
    return ServiceSettings()


def test_settings_never_show_a_password_when_printed_or_serialised(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _secured_settings(monkeypatch)

    for shown in (repr(settings), str(settings), settings.model_dump_json(), str(settings.model_dump())):
        assert KAFKA_SECRET not in shown
        assert MONGO_SECRET not in shown
    assert settings.kafka.security_protocol == "SASL_SSL"


def test_kafka_clients_get_scram_over_tls_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _secured_settings(monkeypatch)

    options = client_security_options(settings.kafka)

    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_username"] == "mentorship-profile"
    assert options["sasl_plain_password"] == KAFKA_SECRET
    context = options["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname


def test_sasl_without_a_password_is_refused_before_any_connection() -> None:
    with pytest.raises(ValueError, match="sasl_password"):
        security_from(KafkaSettings(security_protocol="SASL_SSL", sasl_username="someone"))


def test_plaintext_stays_the_default_with_no_security_options() -> None:
    assert client_security_options(KafkaSettings()) == {}
    assert MongoSettings().client_options() == {}


def test_mongo_credentials_beside_the_url_become_client_options() -> None:
    secret = SecretStr(MONGO_SECRET)
    mongo = MongoSettings(username="profile", password=secret, auth_mechanism="SCRAM-SHA-256")

    assert mongo.client_options() == {
        "username": "profile",
        "password": MONGO_SECRET,
        "authSource": "admin",
        "authMechanism": "SCRAM-SHA-256",
    }


def test_a_mongo_user_without_a_password_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match=r"mongo\.password"):
        MongoSettings(username="profile").client_options()


def _secured_stack(home: Path, kafka_password: str = KAFKA_SECRET) -> stack.StackSettings:
    return stack.StackSettings(
        home=home,
        kafka_port=29192,
        kafka_controller_port=29193,
        kafka_security="sasl_ssl",
        kafka_sasl_password=SecretStr(kafka_password),
        mongo_auth=True,
        mongo_password=SecretStr(MONGO_SECRET),
    )


def test_a_secured_local_kafka_has_one_client_listener_and_it_takes_tls_with_scram(tmp_path: Path) -> None:
    properties = stack._kafka_properties(_secured_stack(tmp_path)).read_text().splitlines()

    assert "listeners=SASL_SSL://127.0.0.1:29192,CONTROLLER://127.0.0.1:29193" in properties
    assert "sasl.enabled.mechanisms=SCRAM-SHA-512" in properties
    assert f"ssl.truststore.location={tmp_path / 'tls' / 'ca.pem'}" in properties
    assert not any(line.startswith("listeners=") and "PLAINTEXT://" in line for line in properties)
    # The file holds the broker's own SASL password: only its owner reads it.
    assert (tmp_path / "data" / "kafka" / "server.properties").stat().st_mode & 0o077 == 0


def test_the_local_certificate_names_the_address_clients_connect_to(tmp_path: Path) -> None:
    stack._kafka_properties(_secured_stack(tmp_path))
    context = ssl.create_default_context(cafile=tmp_path / "tls" / "ca.pem")
    # Loading the chain proves the key and certificate belong together; the CA verifies it.
    context.load_cert_chain(tmp_path / "tls" / "server.crt", tmp_path / "tls" / "server.key")
    assert "IP Address:127.0.0.1" in _text_of(tmp_path / "tls" / "server.crt")


def _text_of(certificate: Path) -> str:
    import subprocess

    command = ["openssl", "x509", "-noout", "-text", "-in", str(certificate)]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


def test_a_password_kafka_would_need_quoted_is_refused_without_being_shown(tmp_path: Path) -> None:
    with pytest.raises(stack.StackError) as refused:
        stack._kafka_properties(_secured_stack(tmp_path, kafka_password='pa"ss'))
    assert 'pa"ss' not in str(refused.value)


def test_the_mongo_password_reaches_ferretdb_by_its_environment_not_its_command_line(tmp_path: Path) -> None:
    settings = _secured_stack(tmp_path)

    command = stack.FERRETDB.command(settings)

    assert "-auth" in command
    assert MONGO_SECRET not in " ".join(command)
    assert stack.FERRETDB.environment(settings)[stack.MONGO_PASSWORD_VARIABLE] == MONGO_SECRET


def test_mongo_auth_without_a_password_says_which_variable_to_set(tmp_path: Path) -> None:
    settings = stack.StackSettings(home=tmp_path, mongo_auth=True)
    with pytest.raises(stack.StackError, match="STACK_MONGO_PASSWORD"):
        stack.FERRETDB.environment(settings)
