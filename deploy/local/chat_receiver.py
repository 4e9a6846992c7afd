"""A chat-webhook receiver: stands in for Slack, Teams and generic webhook endpoints locally.

It accepts JSON POSTs on any path, keeps what arrived (path, body, headers, time), and answers
200, or whatever status sequence was scripted for a path (``500, 200`` makes the first call
fail and the next succeed). Tests run it in-process over a real socket; the demo runs it as a
process (``python -m deploy.local.chat_receiver --port 8030``) and shows what arrived on
``GET /received``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


@dataclass(frozen=True)
class Delivery:
    path: str
    body: Any
    headers: dict[str, str]
    received_at: float


@dataclass
class ChatReceiver:
    received: list[Delivery] = field(default_factory=list)
    scripts: dict[str, list[int]] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)
    port: int = 0

    def respond(self, path: str, *statuses: int) -> None:
        """Answer calls to ``path`` with these statuses in turn (the last one repeats)."""
        self.scripts[path] = list(statuses)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def on(self, path: str) -> list[Delivery]:
        """What was accepted (answered 2xx) on ``path``."""
        return [d for d in self.received if d.path == path]

    async def _post(self, request: Request) -> Response:
        path = request.url.path
        number = self.calls.get(path, 0)
        self.calls[path] = number + 1
        script = self.scripts.get(path) or [200]
        status = script[min(number, len(script) - 1)]
        if status < 300:
            try:
                body = json.loads(await request.body())
            except ValueError:
                return JSONResponse({"error": "the body is not JSON"}, status_code=400)
            self.received.append(Delivery(path, body, dict(request.headers), time.time()))
            return JSONResponse({"ok": True}, status_code=status)
        return JSONResponse({"ok": False, "error": f"scripted {status}"}, status_code=status)

    async def _list(self, request: Request) -> Response:
        limit = int(request.query_params.get("limit", "50"))
        return JSONResponse(
            {
                "total": len(self.received),
                "received": [
                    {"path": d.path, "body": d.body, "at": d.received_at} for d in self.received[-limit:]
                ],
            }
        )

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/received", self._list, methods=["GET"]),
                Route("/{path:path}", self._post, methods=["POST"]),
            ]
        )


@contextlib.asynccontextmanager
async def running_receiver(port: int = 0) -> AsyncIterator[ChatReceiver]:
    """A receiver listening on 127.0.0.1 (any free port by default) for the block's duration."""
    receiver = ChatReceiver()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    receiver.port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(receiver.app(), log_config=None, access_log=False, lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()  # raises the reason it could not start
        await asyncio.sleep(0.01)
    try:
        yield receiver
    finally:
        server.should_exit = True
        await task
        sock.close()


async def _serve_forever(port: int) -> None:
    async with running_receiver(port) as receiver:
        print(
            f"chat receiver on http://127.0.0.1:{receiver.port} (GET /received lists what arrived)",
            flush=True,
        )
        await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=8030)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_forever(parser.parse_args().port))


if __name__ == "__main__":
    main()
