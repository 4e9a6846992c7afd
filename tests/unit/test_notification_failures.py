"""Which failed sends are worth another try, and what an operator is told (never the address)."""

from __future__ import annotations

import aiosmtplib
import httpx
import pytest

from services.notification.channels.base import DeliveryFailure
from services.notification.channels.email import _failure
from services.notification.channels.http import WebhookPoster

SECRET_URL = "https://hooks.example.com/services/T000/B000/very-secret"


async def _post_answered(response: httpx.Response | Exception) -> DeliveryFailure | None:
    def answer(request: httpx.Request) -> httpx.Response:
        if isinstance(response, Exception):
            raise response
        return response

    poster = WebhookPoster(timeout_seconds=1, transport=httpx.MockTransport(answer))
    try:
        await poster.post("the Slack webhook", SECRET_URL, {"text": "hi"}, "n-1")
    except DeliveryFailure as failure:
        return failure
    finally:
        await poster.close()
    return None


async def test_a_2xx_answer_is_a_delivery() -> None:
    assert await _post_answered(httpx.Response(200)) is None


@pytest.mark.parametrize("status", [500, 502, 503, 429])
async def test_server_errors_and_throttling_are_retried(status: int) -> None:
    failure = await _post_answered(httpx.Response(status, headers={"Retry-After": "7"}))
    assert failure is not None
    assert not failure.permanent
    assert failure.retry_after == 7


@pytest.mark.parametrize("status", [400, 403, 404, 410])
async def test_a_refusal_by_the_webhook_is_final(status: int) -> None:
    failure = await _post_answered(httpx.Response(status, text="invalid_payload"))
    assert failure is not None
    assert failure.permanent
    assert f"HTTP {status}" in failure.reason


async def test_a_timeout_is_retried_and_the_reason_never_contains_the_webhook_url() -> None:
    failure = await _post_answered(httpx.ReadTimeout("slow"))
    assert failure is not None
    assert not failure.permanent
    assert "very-secret" not in failure.reason


def test_a_mailbox_the_server_refuses_is_final_and_a_deferred_one_is_retried() -> None:
    refused = aiosmtplib.SMTPRecipientsRefused(
        [aiosmtplib.SMTPRecipientRefused(550, "no such user", "a@x.com")]
    )
    deferred = aiosmtplib.SMTPRecipientsRefused(
        [aiosmtplib.SMTPRecipientRefused(451, "try later", "a@x.com")]
    )
    assert _failure(refused).permanent
    assert "a@x.com" not in _failure(refused).reason
    assert not _failure(deferred).permanent


def test_smtp_4xx_answers_and_lost_connections_are_retried_and_5xx_answers_are_final() -> None:
    assert not _failure(aiosmtplib.SMTPResponseException(421, "busy")).permanent
    assert _failure(aiosmtplib.SMTPResponseException(554, "rejected")).permanent
    assert not _failure(aiosmtplib.SMTPServerDisconnected("gone")).permanent
    assert not _failure(ConnectionRefusedError()).permanent


def test_a_wrong_smtp_password_is_retried_so_fixing_the_setting_recovers_the_mail() -> None:
    assert not _failure(aiosmtplib.SMTPAuthenticationError(535, "bad credentials")).permanent
