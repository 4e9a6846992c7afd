"""Structured logging, configured once per process.

Console output on a terminal, JSON lines otherwise (containers, CI, files). Every line
carries the service name, and while a message is handled, its event id and correlation id
(bound by the consuming middleware through contextvars). Personal data never reaches a log:
known personal fields are masked by a processor, whatever a caller passes.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, Literal

import structlog

# Field names that hold personal data in our contracts; masked wherever they appear.
PERSONAL_FIELDS = frozenset(
    {
        "email",
        "work_email",
        "personal_email",
        "name",
        "full_name",
        "display_name",
        "given_name",
        "family_name",
        "phone",
        "slack_user_id",
        "teams_user_id",
        "comment",
        "password",
        "sasl_password",
        "token",
    }
)
REDACTED = "[redacted]"


def mask_personal_data(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Replace the values of personal fields, also inside nested mappings."""
    masked: MutableMapping[str, Any] = _mask(event_dict)
    return masked


def _mask(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: REDACTED if key in PERSONAL_FIELDS else _mask(inner) for key, inner in value.items()}
    if isinstance(value, list | tuple):
        return [_mask(inner) for inner in value]
    return value


def configure_logging(
    service: str,
    *,
    level: str = "INFO",
    fmt: Literal["auto", "console", "json"] = "auto",
) -> None:
    """Set up structlog and the standard library's logging for this process."""
    use_console = fmt == "console" or (fmt == "auto" and sys.stderr.isatty())
    renderer: structlog.types.Processor = (
        structlog.dev.ConsoleRenderer() if use_console else structlog.processors.JSONRenderer()
    )

    def add_service(
        _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        event_dict.setdefault("service", service)
        return event_dict

    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        add_service,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        mask_personal_data,
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    # Libraries (aiokafka, pymongo, uvicorn, FastStream) log through the standard library;
    # route them through the same renderer so an operator reads one format.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    # httpx and httpcore log every request with its full URL at INFO: a chat webhook's URL
    # carries its credential (Slack's and Teams' are secrets), so they speak only of trouble.
    for noisy in ("aiokafka", "kafka", "pymongo", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    """A structured logger; falls back to structlog's defaults before configuration."""
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger
