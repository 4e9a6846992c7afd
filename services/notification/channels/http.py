"""Posting JSON to incoming webhooks, with failures sorted into retry-worthy and not.

Every request carries an ``Idempotency-Key`` header (the notification id), so a receiver that
deduplicates can recognise a resend after a crash.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from services.notification.channels.base import DeliveryFailure


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


class WebhookPoster:
    def __init__(self, timeout_seconds: float, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._client = httpx.AsyncClient(
            timeout=timeout_seconds,
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
            transport=transport,
        )

    async def post(self, label: str, url: str, body: Mapping[str, Any], idempotency_key: str) -> None:
        """POST ``body``; raises ``DeliveryFailure`` naming ``label`` (never the URL, a secret)."""
        try:
            response = await self._client.post(
                url, json=dict(body), headers={"Idempotency-Key": idempotency_key}
            )
        except httpx.TimeoutException as error:
            raise DeliveryFailure(f"{label} did not answer in time", permanent=False) from error
        except httpx.HTTPError as error:
            raise DeliveryFailure(f"{label} unreachable: {type(error).__name__}", permanent=False) from error
        status = response.status_code
        if status < 300:
            return
        detail = response.text[:500]
        if status == 429 or status >= 500:
            raise DeliveryFailure(
                f"{label} answered HTTP {status}",
                permanent=False,
                retry_after=_retry_after(response),
                detail=detail,
            )
        raise DeliveryFailure(f"{label} refused the message: HTTP {status}", permanent=True, detail=detail)

    async def close(self) -> None:
        await self._client.aclose()
