"""Errors that tell the consuming middleware what to do with a failed message."""

from __future__ import annotations

import json

import pydantic


class UnprocessableMessage(Exception):
    """Raised by a handler when a message can never succeed (it breaks a rule of the
    domain, refers to something that will not exist); it is dead-lettered at once instead of
    being retried."""


PERMANENT_ERRORS: tuple[type[BaseException], ...] = (
    pydantic.ValidationError,
    json.JSONDecodeError,
    UnicodeDecodeError,
    UnprocessableMessage,
)
"""Failures that retrying cannot fix."""


def is_permanent(error: BaseException) -> bool:
    return isinstance(error, PERMANENT_ERRORS)


def describe(error: BaseException, limit: int = 2000) -> str:
    """A one-paragraph reason for the dead-letter record, without the offending input.

    Pydantic errors are rendered field by field without input values, because those values
    may be personal data and the DLQ is read by operators.
    """
    if isinstance(error, pydantic.ValidationError):
        parts = [
            f"{'.'.join(str(p) for p in item['loc']) or '<message>'}: {item['msg']}"
            for item in error.errors(include_input=False, include_url=False)
        ]
        text = f"invalid message ({error.error_count()} error(s)): " + "; ".join(parts)
    else:
        text = f"{type(error).__name__}: {error}"
    return text[:limit]
