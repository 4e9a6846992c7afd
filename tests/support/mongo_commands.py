"""What a client asks the database, recorded through PyMongo's command monitoring, so a test can
show which collections a piece of code reads and how it finds documents there."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pymongo import monitoring

# The commands that select documents, and where each keeps its filters.
_FILTERS = {
    "find": "filter",
    "update": "updates",
    "delete": "deletes",
    "count": "query",
    "aggregate": "pipeline",
}


@dataclass(frozen=True)
class Command:
    name: str
    collection: str
    filters: tuple[dict[str, Any], ...]

    @property
    def by_id(self) -> bool:
        """Every filter names one string ``_id``: the Mongo-wire server looks it up in its index
        instead of reading the collection."""
        return bool(self.filters) and all(isinstance(f.get("_id"), str) for f in self.filters)


def _filters(name: str, command: Mapping[str, Any]) -> tuple[dict[str, Any], ...]:
    found = command.get(_FILTERS[name])
    if name in ("update", "delete"):
        return tuple(statement["q"] for statement in found or [])
    if name == "aggregate":
        return tuple(stage["$match"] for stage in found or [] if "$match" in stage) or ({},)
    return (found or {},)


class CommandLog(monitoring.CommandListener):
    """Pass as ``event_listeners=[log]`` to a client; ``on(collection)`` lists what it asked."""

    def __init__(self) -> None:
        self.commands: list[Command] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        name = event.command_name
        if name in _FILTERS:
            self.commands.append(Command(name, str(event.command[name]), _filters(name, event.command)))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        return

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        return

    def on(self, collection: str) -> list[Command]:
        return [c for c in self.commands if c.collection == collection]

    def clear(self) -> None:
        self.commands.clear()
