"""Consumer lag and dead-letter depth from offsets: pure arithmetic, no Kafka."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class PartitionLag:
    """How far one consumer group is behind on one partition."""

    group: str
    topic: str
    partition: int
    committed: int | None
    start: int
    end: int

    @property
    def lag(self) -> int:
        """Records the group has still to handle. A group that never committed here, or whose
        offset fell below what retention kept, starts from the earliest record kept (the
        services' ``auto_offset_reset``), so everything kept is still ahead of it."""
        if self.committed is None or self.committed < self.start:
            return self.end - self.start
        return max(0, self.end - self.committed)


@dataclass(frozen=True)
class TopicLag:
    """One group on one topic, its partitions added up."""

    group: str
    topic: str
    lag: int
    partitions: int
    partitions_behind: int
    never_committed: int


def by_topic(rows: Iterable[PartitionLag]) -> list[TopicLag]:
    """Partition rows added up per group and topic, in group and topic order."""
    grouped: dict[tuple[str, str], list[PartitionLag]] = {}
    for row in rows:
        grouped.setdefault((row.group, row.topic), []).append(row)
    return [
        TopicLag(
            group=group,
            topic=topic,
            lag=sum(r.lag for r in parts),
            partitions=len(parts),
            partitions_behind=sum(1 for r in parts if r.lag > 0),
            never_committed=sum(1 for r in parts if r.committed is None),
        )
        for (group, topic), parts in sorted(grouped.items())
    ]


@dataclass(frozen=True)
class DeadLetterDepth:
    topic: str
    records: int
    replayed: int

    @property
    def waiting(self) -> int:
        """Dead letters nobody has replayed yet."""
        return max(0, self.records - self.replayed)


def count(value: int | None) -> str:
    """An offset or a count for a table: thousands separated, a dash for none."""
    return "—" if value is None else f"{value:,}"
