"""The platform's service processes and their default HTTP ports (one place for every launcher).

``python -m deploy.services`` is the container image's default command: a container started
without naming its service says how to name one and stops, instead of running some service.
"""

from __future__ import annotations

import sys

SERVICES: dict[str, int] = {
    "profile": 8101,
    "matching": 8102,
    "scheduling": 8103,
    "notification": 8104,
    "recognition": 8105,
}
"""Service name (also its package under ``services/`` and its env prefix) to HTTP port."""

USAGE_EXIT_CODE = 64  # EX_USAGE


def usage() -> str:
    lines = ["This image runs one service per container; give the container its command:"]
    lines += [f"  python -m services.{name}    (HTTP port {port})" for name, port in SERVICES.items()]
    return "\n".join(lines)


if __name__ == "__main__":
    print(usage(), file=sys.stderr)
    sys.exit(USAGE_EXIT_CODE)
