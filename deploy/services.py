"""The platform's service processes and their default HTTP ports (one place for every launcher)."""

from __future__ import annotations

SERVICES: dict[str, int] = {
    "profile": 8101,
    "matching": 8102,
    "scheduling": 8103,
    "notification": 8104,
    "recognition": 8105,
}
"""Service name (also its package under ``services/`` and its env prefix) to HTTP port."""
