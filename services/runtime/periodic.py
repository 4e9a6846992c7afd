"""Work a service does on a clock instead of in answer to a message (expiry sweeps, reminders).

Each task runs in every replica, so what it does must be safe to do twice: the tasks in this
platform only publish commands with deterministic ids, and the consumer of those commands
(one per key, in order with everything else about that key) makes the decision.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from services.runtime.logging import get_logger

if TYPE_CHECKING:
    from services.runtime.service import Runtime
    from services.runtime.settings import ServiceSettings

log = get_logger(__name__)


@dataclass(frozen=True)
class PeriodicTask:
    name: str
    every_seconds: Callable[[ServiceSettings], float]
    run: Callable[[Runtime], Awaitable[None]]


async def _repeat(task: PeriodicTask, runtime: Runtime) -> None:
    interval = task.every_seconds(runtime.settings)
    while True:
        await asyncio.sleep(interval)
        try:
            await task.run(runtime)
        except Exception as error:  # noqa: BLE001 - one failed pass must not end the loop; the next may succeed
            log.error("periodic task failed", task=task.name, error=type(error).__name__, detail=str(error))


@contextmanager
def started(tasks: tuple[PeriodicTask, ...], runtime: Runtime) -> Iterator[None]:
    """Run the tasks in the background for the duration of the block."""
    running = [asyncio.create_task(_repeat(task, runtime), name=task.name) for task in tasks]
    try:
        yield
    finally:
        for handle in running:
            handle.cancel()
