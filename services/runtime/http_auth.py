"""Bearer-token protection for the HTTP read APIs that return personal data."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable

from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.runtime.settings import ServiceSettings

_bearer = HTTPBearer(auto_error=False, description="The service's API token (setting api_token).")


def _valid(settings: ServiceSettings, credentials: HTTPAuthorizationCredentials | None) -> bool:
    expected = settings.api_token.get_secret_value() if settings.api_token else None
    return (
        expected is not None
        and credentials is not None
        and secrets.compare_digest(credentials.credentials.encode(), expected.encode())
    )


def token_presented(settings: ServiceSettings) -> Callable[..., Awaitable[bool]]:
    """A FastAPI dependency for routes that serve everyone but add personal data for
    authorised callers: True with a valid token, False with none, 401 with a wrong one."""

    async def check(credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> bool:  # noqa: B008
        if credentials is None:
            return False
        if not _valid(settings, credentials):
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "the bearer token is not valid",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return True

    return check


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
        if not _valid(settings, credentials):
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "a valid bearer token is required",
                headers={"WWW-Authenticate": "Bearer"},
            )

    return check
