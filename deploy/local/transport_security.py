"""What the local stack needs to run Kafka over SASL_SSL (SCRAM-SHA-512) and FerretDB with
authentication: a throw-away certificate authority and broker certificate, the broker's
listener settings, and the SCRAM credential Kafka's storage tool writes at format time.

Certificates are made with the ``openssl`` command (on every Debian machine, and no Python
dependency for the services); they are PEM files, which Kafka 4 reads directly as key and trust
stores, so no ``keytool`` step and no store passwords are needed.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

SCRAM_MECHANISM = "SCRAM-SHA-512"
# What Kafka's JAAS parser and the storage tool's ``name=...,password=...`` syntax accept
# without quoting; refusing anything else beats a broker that fails to parse its own config.
_UNSAFE_IN_CREDENTIALS = frozenset('"\\,[]=; \n\r\t')


class TransportSecurityError(RuntimeError):
    """Certificates could not be made, or credentials cannot be handed to Kafka unquoted."""


@dataclass(frozen=True)
class Certificates:
    """PEM files under one directory: the CA clients trust, and the broker's key and chain."""

    directory: Path

    @property
    def ca(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.directory / "ca.key"

    @property
    def server_key(self) -> Path:
        return self.directory / "server.key"

    @property
    def server_certificate(self) -> Path:
        return self.directory / "server.crt"

    @property
    def server_keystore(self) -> Path:
        """Private key followed by the certificate chain, the layout of Kafka's PEM key store."""
        return self.directory / "server-keystore.pem"

    def exist(self) -> bool:
        files = (self.ca, self.server_key, self.server_certificate, self.server_keystore)
        return all(path.exists() for path in files)


def ensure_certificates(directory: Path, host: str, days: int = 30) -> Certificates:
    """A CA and a server certificate for ``host`` (and localhost), made once per stack home."""
    certificates = Certificates(directory)
    if certificates.exist():
        return certificates
    openssl = shutil.which("openssl")
    if openssl is None:
        raise TransportSecurityError("openssl makes the local stack's certificates: apt-get install openssl")
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    ca_subject = "/CN=mentorship local stack CA"
    _openssl(
        openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", str(days),
        "-subj", ca_subject, "-keyout", str(certificates.ca_key), "-out", str(certificates.ca),
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    request = directory / "server.csr"
    _openssl(
        openssl, "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={host}",
        "-keyout", str(certificates.server_key), "-out", str(request),
    )  # fmt: skip
    names = directory / "server.ext"
    alt_names = {f"IP:{host}" if _is_ip(host) else f"DNS:{host}", "IP:127.0.0.1", "DNS:localhost"}
    names.write_text(
        f"subjectAltName={','.join(sorted(alt_names))}\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n"
    )
    _openssl(
        openssl, "x509", "-req", "-in", str(request), "-CA", str(certificates.ca),
        "-CAkey", str(certificates.ca_key), "-CAcreateserial", "-days", str(days),
        "-extfile", str(names), "-out", str(certificates.server_certificate),
    )  # fmt: skip
    chain = (certificates.server_key, certificates.server_certificate, certificates.ca)
    certificates.server_keystore.write_text("".join(path.read_text() for path in chain))
    for secret in (certificates.ca_key, certificates.server_key, certificates.server_keystore):
        secret.chmod(0o600)
    request.unlink()
    return certificates


def _openssl(*command: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        step = " ".join(command[1:3])
        raise TransportSecurityError(f"openssl {step} failed ({result.returncode}): {result.stderr.strip()}")


def _is_ip(host: str) -> bool:
    return all(part.isdigit() for part in host.split(".")) and host.count(".") == 3


def check_credentials(username: str, password: str) -> None:
    """Refuse names and passwords that would need quoting in Kafka's configuration."""
    if not username or not password:
        raise TransportSecurityError("a SASL user name and password are both needed")
    for what, value in (("user name", username), ("password", password)):
        if _UNSAFE_IN_CREDENTIALS & set(value):
            raise TransportSecurityError(f"the SASL {what} has a character Kafka's config needs quoted")


def scram_format_arguments(username: str, password: str) -> list[str]:
    """``kafka-storage format`` arguments that store the user's SCRAM credential in the first
    metadata records, so the broker accepts the user (and itself) from its first start."""
    check_credentials(username, password)
    return ["--add-scram", f"{SCRAM_MECHANISM}=[name={username},password={password}]"]


def sasl_ssl_listener_properties(
    host: str, port: int, controller_port: int, certificates: Certificates, username: str, password: str
) -> list[str]:
    """Broker settings for one SASL_SSL listener that clients and the broker itself use.

    The controller listener stays plaintext on the loopback address: only this node's own
    controller speaks on it, and KRaft's controller does not take SCRAM before the metadata
    holding the credentials is loaded."""
    check_credentials(username, password)
    return [
        f"listeners=SASL_SSL://{host}:{port},CONTROLLER://{host}:{controller_port}",
        f"advertised.listeners=SASL_SSL://{host}:{port}",
        "controller.listener.names=CONTROLLER",
        "inter.broker.listener.name=SASL_SSL",
        "listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT",
        f"sasl.enabled.mechanisms={SCRAM_MECHANISM}",
        f"sasl.mechanism.inter.broker.protocol={SCRAM_MECHANISM}",
        f"listener.name.sasl_ssl.{SCRAM_MECHANISM.lower()}.sasl.jaas.config="
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{username}" password="{password}";',
        "ssl.keystore.type=PEM",
        f"ssl.keystore.location={certificates.server_keystore}",
        "ssl.truststore.type=PEM",
        f"ssl.truststore.location={certificates.ca}",
        "ssl.client.auth=none",
        "ssl.endpoint.identification.algorithm=https",
    ]
