"""Reading mail back from Mailpit's HTTP API, as a person's inbox would show it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from icalendar import Calendar

from tests.support.waiting import eventually


@dataclass(frozen=True)
class Mail:
    id: str
    message_id: str
    subject: str
    to: list[str]
    text: str
    html: str
    attachments: list[dict[str, Any]]


class Mailpit:
    def __init__(self, api: str) -> None:
        self.api = api.rstrip("/")

    async def inbox(self, address: str) -> list[Mail]:
        """Every message to ``address``, oldest first."""
        async with httpx.AsyncClient(base_url=self.api, timeout=10) as client:
            found = await client.get("/api/v1/search", params={"query": f'to:"{address}"', "limit": 500})
            found.raise_for_status()
            mails = []
            for summary in reversed(found.json()["messages"]):
                detail = await client.get(f"/api/v1/message/{summary['ID']}")
                detail.raise_for_status()
                body = detail.json()
                mails.append(
                    Mail(
                        id=body["ID"],
                        message_id=body["MessageID"],
                        subject=body["Subject"],
                        to=[t["Address"] for t in body["To"]],
                        text=body["Text"],
                        html=body["HTML"],
                        attachments=body.get("Attachments") or [],
                    )
                )
            return mails

    async def wait_for(self, address: str, count: int, timeout: float = 30.0) -> list[Mail]:
        mails: list[Mail] = []

        async def arrived() -> bool:
            nonlocal mails
            mails = await self.inbox(address)
            return len(mails) >= count

        await eventually(arrived, timeout=timeout, what=f"{count} mail(s) to {address}")
        return mails

    async def invite(self, mail: Mail) -> Calendar:
        """The attached calendar invite, parsed."""
        part = next(a for a in mail.attachments if a["ContentType"].startswith("text/calendar"))
        async with httpx.AsyncClient(base_url=self.api, timeout=10) as client:
            response = await client.get(f"/api/v1/message/{mail.id}/part/{part['PartID']}")
            response.raise_for_status()
        return Calendar.from_ical(response.content)
