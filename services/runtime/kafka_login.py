"""Telling a refused Kafka login apart from a broker that is not up yet.

aiokafka reports both as ``KafkaConnectionError: Unable to bootstrap`` (the broker's reason is
only logged), and a service waits for an unreachable Kafka, so a wrong password would look like a
slow broker for the whole start-up timeout. Asked again on a single connection, the broker says
whether it refused the credentials; retrying those cannot help, so the service stops at once and
says which setting to look at.
"""

from __future__ import annotations

import asyncio

from aiokafka.conn import create_conn
from aiokafka.errors import IllegalSaslStateError, SaslAuthenticationFailed, UnsupportedSaslMechanismError

from services.runtime.broker import client_security_options
from services.runtime.settings import KafkaSettings

_REFUSALS = (SaslAuthenticationFailed, UnsupportedSaslMechanismError, IllegalSaslStateError)


class KafkaLoginRefused(RuntimeError):
    """The broker answered and refused this client's SASL credentials or mechanism."""


async def login_refusal(kafka: KafkaSettings, timeout: float = 10.0) -> KafkaLoginRefused | None:
    """The broker's refusal of our SASL login, or None when it accepted it, when no SASL is
    configured, or when it could not be asked (not up, unreachable: a reason to wait, not to stop)."""
    if not kafka.security_protocol.startswith("SASL"):
        return None
    host, _, port = kafka.bootstrap_servers.split(",")[0].strip().rpartition(":")
    options = client_security_options(kafka)
    try:
        connection = await asyncio.wait_for(
            create_conn(host, int(port), request_timeout_ms=int(timeout * 1000), **options), timeout
        )
    except _REFUSALS as refused:
        # The broker's own words ("invalid credentials with SASL mechanism ..."): they name the
        # mechanism, never the password.
        return KafkaLoginRefused(
            f"Kafka at {kafka.bootstrap_servers} refused the SASL login of user {kafka.sasl_username!r} "
            f"({kafka.sasl_mechanism or 'SCRAM-SHA-512'}): {refused}. "
            "Check kafka.sasl_username, kafka.sasl_password and kafka.sasl_mechanism."
        )
    except Exception:  # noqa: BLE001 - any other failure is the broker not being there yet
        return None
    connection.close()
    return None
