"""Command line of the demo: ``python -m deploy.local.demo --help``."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from rich.console import Console

from deploy.local import stack
from deploy.local.demo.run import DemoOptions, Endpoints, run_demo
from deploy.services import SERVICES


def _instances(values: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        name, _, number = value.partition("=")
        if name not in SERVICES or not number.isdigit() or not 1 <= int(number) <= 8:
            raise argparse.ArgumentTypeError(f"--instances takes SERVICE=N (N from 1 to 8), not {value!r}")
        counts[name] = int(number)
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="demo", description="Run the platform with a demo organisation.")
    parser.add_argument("--once", action="store_true", help="exit with a summary once the demo went through")
    parser.add_argument("--people", type=int, default=200, help="size of the demo organisation (at least 12)")
    parser.add_argument(
        "--instances", nargs="*", default=[], metavar="SERVICE=N", help="run N instances of a service"
    )
    parser.add_argument("--namespace", default="", help="prefix for topics and databases (default: none)")
    parser.add_argument("--chat-port", type=int, default=8030, help="port of the chat receiver (0: any)")
    parser.add_argument("--port-base", type=int, default=None, help="first HTTP port of the services")
    args = parser.parse_args(argv)
    try:
        options = DemoOptions(
            people=args.people,
            once=args.once,
            instances=_instances(args.instances),
            namespace=args.namespace,
            chat_port=args.chat_port,
            port_base=args.port_base,
        )
    except argparse.ArgumentTypeError as error:
        parser.error(str(error))
    if args.people < 12:
        parser.error("--people must be at least 12")

    console = Console()
    if not console.is_terminal:
        console = Console(width=140)
    settings = stack.StackSettings()
    servers = Endpoints.from_environment(settings)
    started_stack = not servers.external and stack.status(settings) != 0
    if started_stack:
        stack.up(settings)
    # SIGTERM stops the demo like Ctrl-C does: everything it started is stopped.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        return asyncio.run(run_demo(options, servers, console))
    except KeyboardInterrupt:
        console.print("Interrupted; everything the demo started is stopped.")
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if started_stack:
            stack.down(settings)


if __name__ == "__main__":
    sys.exit(main())
