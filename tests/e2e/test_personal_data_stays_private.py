"""Personal data and secrets stay where they belong, with the five services running as
processes of their own.

- Every route of every read API (found in each service's own OpenAPI document, so a new
  route cannot be forgotten) refuses a caller without the bearer token or with a wrong one;
  the delivery log answers without it, but with no address, subject or server text.
- A whole flow (onboarding with email, Slack, Teams and webhook contacts, a waitlisted
  request, kudos delivered on every channel) leaves no name, email address, webhook URL,
  password or token in any service's log, with recognisable secrets seeded into the
  settings of each service.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from contracts.recognition import GiveKudos, GiveKudosData
from tests.e2e.platform import SERVICES, Employee, Platform, platform_for_module
from tests.e2e.processes import TOKEN
from tests.support.infrastructure import Infrastructure

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

SECRETS = {
    "MENTORSHIP_KAFKA__SASL_USERNAME": "kafka-user-b1e7",
    "MENTORSHIP_KAFKA__SASL_PASSWORD": "Kafka-Secret-7f3a9c",
    "NOTIFICATION_SMTP__PASSWORD": "Smtp-Secret-91bc40",
}
"""Set on every service; Kafka speaks PLAINTEXT here and the SMTP server wants no login,
so they are carried in the settings without being used, as a misconfiguration would."""

PEOPLE = (
    Employee("PD-GIVER", "Henrietta Quarrington", chat=("slack", "teams", "webhook")),
    Employee("PD-TAKER", "Bartholomew Fennimore", chat=("slack", "teams", "webhook")),
)
SENDER = "mentorship@example.com"
"""The platform's own From address, which is no one's personal data."""
NOT_ROUTES = (
    "/health/live",
    "/health/ready",
    "/asyncapi.json",
    "/metrics",
    "/openapi.json",
    "/docs",
    "/redoc",
)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def platform(
    infrastructure: Infrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Platform]:
    async with platform_for_module(infrastructure, tmp_path_factory, more_env=SECRETS) as up:
        yield up


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def flow(platform: Platform) -> None:
    """People onboarded with every channel, then one thanks the other; the thanks delivered."""
    await platform.onboard(*PEOPLE)
    kudos = GiveKudos.create(
        GiveKudosData(kudos_id="pd-kudos", from_id="PD-GIVER", to_id="PD-TAKER", message="Thanks a lot!"),
        source="web",
    )
    await platform.command(kudos)
    await platform.mail("PD-TAKER", lambda subject: "kudos" in subject, what="the kudos mail")
    for channel in ("slack", "teams", "webhook"):
        await platform.chat(
            "PD-TAKER", channel, lambda body: "kudos" in str(body), what=f"kudos on {channel}"
        )


async def _routes(platform: Platform, service: str) -> list[str]:
    """Every GET route the service serves besides health and documents, with ids filled in."""
    document = (await platform.services[service].http.get("/openapi.json")).json()
    paths = [p for p, methods in document["paths"].items() if "get" in methods and p not in NOT_ROUTES]
    return [re.sub(r"\{[^}]+\}", "PD-TAKER", path) for path in paths]


@pytest.mark.parametrize("service", [s for s in SERVICES if s != "notification"])
async def test_every_read_route_refuses_a_caller_without_a_valid_token(
    platform: Platform, flow: None, service: str
) -> None:
    http = platform.services[service].http
    routes = await _routes(platform, service)
    assert routes, f"{service} serves no read API"

    for route in routes:
        anonymous = await http.get(route)
        wrong = await http.get(route, headers={"Authorization": f"Bearer {TOKEN}x"})
        basic = await http.get(route, headers={"Authorization": f"Basic {TOKEN}"})
        allowed = await http.get(route, headers={"Authorization": f"Bearer {TOKEN}"})
        assert (anonymous.status_code, wrong.status_code, basic.status_code) == (401, 401, 401), route
        assert "Bartholomew" not in anonymous.text + wrong.text + basic.text
        assert allowed.status_code in (200, 404), (route, allowed.status_code)


async def test_the_delivery_log_shows_no_address_subject_or_server_text_without_the_token(
    platform: Platform, flow: None
) -> None:
    http = platform.services["notification"].http
    routes = await _routes(platform, "notification")
    assert "/deliveries" in routes

    with_token = (await http.get("/deliveries", headers={"Authorization": f"Bearer {TOKEN}"})).json()
    anonymous = (await http.get("/deliveries")).json()
    wrong = await http.get("/deliveries", headers={"Authorization": f"Bearer {TOKEN}x"})

    assert any(item["address"] for item in with_token)
    assert anonymous
    assert all(item["address"] is None and item["subject"] is None for item in anonymous)
    assert all(item["detail"] is None for item in anonymous)
    assert wrong.status_code == 401
    for item in anonymous[:5]:
        one = (await http.get(f"/deliveries/{item['notification_id']}")).json()
        assert (one["address"], one["subject"], one["detail"]) == (None, None, None)


def _log_text(platform: Platform) -> dict[str, str]:
    logs: dict[str, Path] = {name: s.log for name, s in platform.services.items()}
    return {name: path.read_text(errors="replace") for name, path in logs.items()}


def _forbidden(platform: Platform) -> dict[str, str]:
    """Everything that must never be logged, by what it is."""
    found: dict[str, str] = {}
    for person in PEOPLE:
        found[f"name of {person.person_id}"] = person.name
        found[f"first name of {person.person_id}"] = person.name.split()[0]
        found[f"email of {person.person_id}"] = platform.address(person.person_id)
        for channel in person.chat:
            found[f"{channel} URL of {person.person_id}"] = platform.hook(person.person_id, channel)
    found |= {f"secret {name}": value for name, value in SECRETS.items()}
    found["API token"] = f"Bearer {TOKEN}"
    return found


async def test_no_name_email_webhook_url_password_or_token_appears_in_any_service_log(
    platform: Platform, flow: None
) -> None:
    texts = _log_text(platform)
    assert all(texts.values()), "every service wrote a log"
    # Every line is there: the people's ids and the chain of events are logged, only not who they are.
    assert any("PD-TAKER" in text for text in texts.values())

    leaks: list[tuple[str, str]] = []
    for service, text in texts.items():
        lowered = text.lower()
        leaks += [(service, what) for what, value in _forbidden(platform).items() if value.lower() in lowered]
        emails = set(re.findall(r"[\w.+-]+@[\w-]+\.[\w.-]+", text)) - {SENDER}
        leaks += [(service, f"an email address at {e.split('@')[1]}") for e in emails]
    assert leaks == []
