"""Logs never carry personal data, however a caller passes it."""

from __future__ import annotations

import io
import json
import sys

import httpx
import structlog

from services.runtime.logging import REDACTED, configure_logging, mask_personal_data


def test_names_and_emails_are_masked_at_any_depth() -> None:
    masked = mask_personal_data(
        None,
        "info",
        {
            "event": "profile stored",
            "person_id": "E1",
            "email": "ada@example.com",
            "snapshot": {"display_name": "Ada", "team": "payments", "contacts": [{"email": "x@y.z"}]},
        },
    )
    assert masked["email"] == REDACTED
    assert masked["snapshot"]["display_name"] == REDACTED
    assert masked["snapshot"]["contacts"][0]["email"] == REDACTED
    assert masked["snapshot"]["team"] == "payments"
    assert masked["person_id"] == "E1"


def test_json_log_lines_carry_the_service_and_the_bound_event_ids() -> None:
    buffer = io.StringIO()
    original = sys.stderr
    sys.stderr = buffer
    try:
        configure_logging("profile", fmt="json")
        with structlog.contextvars.bound_contextvars(event_id="ev-1", correlation_id="co-1"):
            structlog.get_logger().info("handled", full_name="Ada Lovelace")
    finally:
        sys.stderr = original
    line = json.loads(buffer.getvalue().strip().splitlines()[-1])
    assert line["service"] == "profile"
    assert line["event_id"] == "ev-1"
    assert line["correlation_id"] == "co-1"
    assert line["full_name"] == REDACTED


def test_a_webhook_url_called_over_http_never_reaches_the_log() -> None:
    # Slack and Teams put the credential in the webhook URL's path, so the URL is a secret.
    url = "https://hooks.slack.com/services/T0000/B0000/secret-webhook-token"
    buffer = io.StringIO()
    original = sys.stderr
    sys.stderr = buffer
    try:
        configure_logging("notification", fmt="json")
        with httpx.Client(transport=httpx.MockTransport(lambda _: httpx.Response(200))) as client:
            client.post(url, json={"text": "Your seat is reserved"})
        structlog.get_logger().info("notification delivered", channel="slack")
    finally:
        sys.stderr = original
    logged = buffer.getvalue()
    assert "notification delivered" in logged
    assert "secret-webhook-token" not in logged
