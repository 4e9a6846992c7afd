"""The container image's health check: is the service in this container ready?

The image is shared by every service, so its one ``HEALTHCHECK`` finds out which service the
container runs from the command line (``python -m services.<name>``) and that service's port
the way its settings resolve it: ``<NAME>_HTTP_PORT`` beats ``MENTORSHIP_HTTP_PORT``, which
beats the service's default. Importing the service's settings class instead would load the
whole service every few seconds.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from os import environ
from pathlib import Path

from deploy.services import SERVICES

PLATFORM_PREFIX = "MENTORSHIP_"
READY_PATH = "/health/ready"


def service_in(argv: Sequence[str]) -> str | None:
    """The service a command line runs, if it runs one (an init process may come first)."""
    for arg in argv:
        package, _, name = arg.partition(".")
        if package == "services" and name in SERVICES:
            return name
    return None


def port_of(service: str, env: Mapping[str, str]) -> int:
    """The HTTP port the service listens on with this environment."""
    # pydantic-settings reads variable names without regard to case.
    folded = {key.upper(): value for key, value in env.items()}
    for prefix in (f"{service.upper()}_", PLATFORM_PREFIX):
        value = folded.get(f"{prefix}HTTP_PORT")
        if value is not None:
            return int(value)
    return SERVICES[service]


def main(cmdline: Path = Path("/proc/1/cmdline"), env: Mapping[str, str] = environ) -> int:
    """0 when the container's service answers ready, 1 otherwise (Docker's convention)."""
    argv = cmdline.read_bytes().decode(errors="replace").split("\0")
    service = service_in(argv)
    if service is None:
        print("no service runs in this container (expected `python -m services.<name>`)", file=sys.stderr)
        return 1
    url = f"http://127.0.0.1:{port_of(service, env)}{READY_PATH}"
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError) as error:
        print(f"{service} is not ready: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
