"""The service's own MongoDB database: opened in the lifespan, indexes ensured at start."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from services.runtime.settings import ServiceSettings

Document = dict[str, Any]
IndexSetup = Callable[[AsyncDatabase[Document]], Awaitable[None]]


def open_client(settings: ServiceSettings) -> AsyncMongoClient[Document]:
    """A client for the configured server; it connects lazily on first use."""
    return AsyncMongoClient(
        settings.mongo.url.get_secret_value(),
        serverSelectionTimeoutMS=settings.mongo.server_selection_timeout_ms,
        appname=settings.client_id,
        tz_aware=True,
    )


async def ping(client: AsyncMongoClient[Document]) -> bool:
    try:
        await client.admin.command("ping")
    except Exception:  # noqa: BLE001 - any failure means not ready
        return False
    return True
