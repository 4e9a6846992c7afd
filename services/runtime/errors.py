"""Errors that tell the consuming middleware what to do with a failed message."""

from __future__ import annotations

import json

import pydantic
from pydantic_core import ErrorDetails


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


def field_errors(error: pydantic.ValidationError, *, within: str | None = None) -> list[str]:
    """``"field.path: problem"`` per error, without input values (they may be personal data).

    With ``within``, paths inside that top-level field are given relative to it.
    """
    parts = []
    for item in error.errors(include_input=False, include_url=False):
        location = [str(p) for p in item["loc"]]
        if within is not None and location[:1] == [within]:
            location = location[1:]
        parts.append(f"{'.'.join(location) or '<message>'}: {_without_input(item)}")
    return parts


def _without_input(item: ErrorDetails) -> str:
    # Pydantic quotes the unknown discriminator itself in this one message.
    if item["type"] == "union_tag_invalid":
        expected = (item.get("ctx") or {}).get("expected_tags", "")
        return f"unknown message type for this topic; expected one of {expected}"
    return item["msg"]


def describe(error: BaseException, limit: int = 2000) -> str:
    """A one-paragraph reason for the dead-letter record, without the offending input.

    Pydantic errors are rendered field by field without input values, because those values
    may be personal data and the DLQ is read by operators.
    """
    if isinstance(error, pydantic.ValidationError):
        text = f"invalid message ({error.error_count()} error(s)): " + "; ".join(field_errors(error))
    else:
        text = f"{type(error).__name__}: {error}"
    return text[:limit]
