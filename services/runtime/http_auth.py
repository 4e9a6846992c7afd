"""Bearer-token protection for the HTTP read APIs that return personal data."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable

from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.runtime.settings import ServiceSettings

_bearer = HTTPBearer(auto_error=False, description="The service's API token (setting api_token).")


def require_token(settings: ServiceSettings) -> Callable[..., Awaitable[None]]:
    """A FastAPI dependency that admits only callers presenting the configured token.

    With no token configured, every call is refused: personal data is never served by
    accident on an unconfigured deployment.
    """

    async def check(credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> None:  # noqa: B008
        expected = settings.api_token.get_secret_value() if settings.api_token else None
        if expected is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED, "this API is disabled: no api_token is configured"
            )
        if credentials is None or not secrets.compare_digest(
            credentials.credentials.encode(), expected.encode()
        ):
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "a valid bearer token is required",
                headers={"WWW-Authenticate": "Bearer"},
            )

    return check
