"""The topic registry: every topic, its key, its messages and its dead-letter topic.

Naming scheme: ``<owner>.<stream>.v<major>``. The owner is the producing side (``hr`` for
outside systems); ``commands`` topics carry imperatives to the owner, ``events`` topics carry
what the owner decided. A breaking change to any message makes a new major version, which is
a new topic, so old and new consumers can run side by side during a migration.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from contracts.envelope import Envelope

DEFAULT_PARTITIONS = 6
DLQ_SUFFIX = ".dlq"


@dataclass(frozen=True)
class TopicSpec:
    """One topic of the registry."""

    name: str
    owner: str
    key: str
    description: str
    messages: tuple[type[Envelope], ...]
    partitions: int = DEFAULT_PARTITIONS
    consumers: tuple[str, ...] = field(default=())

    @property
    def dead_letter(self) -> str:
        """Where messages of this topic go when they cannot be processed."""
        return dead_letter_topic(self.name)

    @property
    def version(self) -> int:
        return int(self.name.rsplit(".v", 1)[1])


def dead_letter_topic(topic: str) -> str:
    """The dead-letter topic of any topic (also of a prefixed, physical name)."""
    return f"{topic}{DLQ_SUFFIX}"
