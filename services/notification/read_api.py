"""The delivery log over HTTP, for operators: what went to whom, when, on which channel, and
what failed and why.

Everyone with access to the service sees ids, templates, channels, states, times and failure
reasons; the address, the subject and the server's own words (which can quote an address) are
added only for a caller with the API token.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel

from contracts.profile import Channel
from services.notification.store import DELIVERIES
from services.runtime.http_auth import token_presented
from services.runtime.mongo import Document
from services.runtime.service import Runtime


class DeliveryView(BaseModel):
    notification_id: str
    recipient_id: str
    channel: str | None
    template: str
    state: str
    attempts: int
    created_at: datetime
    sent_at: datetime | None = None
    failed_at: datetime | None = None
    due_at: datetime | None = None
    waiting_for: str | None = None
    reason: str | None = None
    cause_event_id: str
    correlation_id: str
    # Only for an authorised caller:
    address: str | None = None
    subject: str | None = None
    detail: str | None = None


class Summary(BaseModel):
    by_channel_and_state: dict[str, dict[str, int]]
    failure_reasons: dict[str, int]
    waiting: int


def view(doc: Document, *, personal: bool) -> DeliveryView:
    payload = doc.get("payload") or {}
    subject = payload.get("subject") or payload.get("text") or payload.get("summary")
    return DeliveryView(
        notification_id=doc["_id"],
        recipient_id=doc["recipient_id"],
        channel=doc.get("channel"),
        template=doc["template"],
        state=doc["state"],
        attempts=doc.get("attempts", 0),
        created_at=doc["created_at"],
        sent_at=doc.get("sent_at"),
        failed_at=doc.get("failed_at"),
        due_at=doc.get("due_at") or doc.get("digest_at"),
        waiting_for=doc.get("waiting_for"),
        reason=doc.get("reason"),
        cause_event_id=doc["cause_event_id"],
        correlation_id=doc["correlation_id"],
        address=doc.get("address") if personal else None,
        subject=subject if personal else None,
        detail=doc.get("detail") if personal else None,
    )


_LIST_FIELDS = {"payload": 0, "cause": 0, "notice": 0, "_outbox": 0}


def build_http(runtime: Runtime) -> APIRouter:
    deliveries = runtime.db[DELIVERIES]
    authorised = token_presented(runtime.settings)
    api = APIRouter(tags=["notification"])

    @api.get("/deliveries")
    async def list_deliveries(
        recipient_id: str | None = None,
        channel: Channel | None = None,
        state: str | None = None,
        template: str | None = None,
        cause_event_id: str | None = None,
        limit: int = Query(default=100, ge=1, le=1000),
        personal: bool = Depends(authorised),
    ) -> list[DeliveryView]:
        """Newest first, filtered by any of the parameters."""
        query: dict[str, Any] = {}
        for name, value in (
            ("recipient_id", recipient_id),
            ("channel", channel.value if channel else None),
            ("state", state),
            ("template", template),
            ("cause_event_id", cause_event_id),
        ):
            if value is not None:
                query[name] = value
        projection = {"cause": 0} if personal else _LIST_FIELDS
        cursor = deliveries.find(query, projection).sort("created_at", -1).limit(limit)
        return [view(doc, personal=personal) async for doc in cursor]

    @api.get("/deliveries/summary")
    async def summary() -> Summary:
        """Counts by channel and state, and how often each failure reason occurred."""
        counts: dict[str, dict[str, int]] = {}
        reasons: dict[str, int] = {}
        async for doc in deliveries.find({}, {"channel": 1, "state": 1, "reason": 1}):
            by_state = counts.setdefault(doc.get("channel") or "digest", {})
            by_state[doc["state"]] = by_state.get(doc["state"], 0) + 1
            if doc["state"] in ("failed", "in_doubt") and doc.get("reason"):
                reasons[doc["reason"]] = reasons.get(doc["reason"], 0) + 1
        waiting = await runtime.db["schedule"].count_documents({})
        return Summary(by_channel_and_state=counts, failure_reasons=reasons, waiting=waiting)

    @api.get("/deliveries/{notification_id}")
    async def one_delivery(notification_id: str, personal: bool = Depends(authorised)) -> DeliveryView:
        doc = await deliveries.find_one({"_id": notification_id}, None if personal else _LIST_FIELDS)
        if doc is None:
            raise HTTPException(404, "no delivery with this id")
        return view(doc, personal=personal)

    return api
