"""Every partition of a topic in flight at once, each in order, committed in the background.

FastStream's Kafka subscriber hands a consumer's records to the handler one at a time, and with
an ack policy that commits after processing it sends one offset commit per record. On the local
stack that commit took 8 to 10 ms (most of it the broker's ``group.coordinator.append.linger.ms``),
as long as the handler's own database writes, and while a handler waits for Mongo the process has
nothing else to do. ``PartitionLanes`` sits between one consumer and the handler:

- each partition gets a lane; a lane handles its records one after another in offset order, so
  messages with one key (one person) are handled in the order they were published, while lanes
  of different partitions run side by side;
- when a lane finished a record (handled, or dead-lettered by the middleware), the offset after
  it becomes committable; a background task commits what is committable every
  ``commit_interval`` seconds. An offset is therefore committed only after its record and every
  earlier record of the partition were finished; a crash redelivers at most the records of the
  last interval, which idempotent handlers absorb;
- a record whose handling raised (the middleware could not even dead-letter it) is tried again
  in its lane, with a growing pause, until it succeeds: its partition waits and nothing after it
  is committed, as FastStream's ``NACK_ON_ERROR`` did by seeking back to it;
- before a rebalance takes partitions away, their lanes finish the record in hand (or are
  cancelled after ``drain_timeout``, as if the process had died there) and their progress is
  committed, so the next owner starts where this one stopped; records fetched but not begun are
  dropped and fetched again by the next owner. Stopping does the same for every lane;
- a lane holding ``buffer`` records pauses fetching for its partition until it is half empty, so
  memory stays bounded when handlers are slower than the broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiokafka import ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

from services.runtime.logging import get_logger

log = get_logger(__name__)

Handle = Callable[[ConsumerRecord[Any, Any]], Awaitable[Any]]


class OffsetConsumer(Protocol):
    """The part of ``AIOKafkaConsumer`` the lanes use."""

    def assignment(self) -> set[TopicPartition]: ...

    async def commit(self, offsets: dict[TopicPartition, int]) -> None: ...

    def pause(self, *partitions: TopicPartition) -> None: ...

    def resume(self, *partitions: TopicPartition) -> None: ...


@dataclass(frozen=True)
class LaneSettings:
    commit_interval: float = 0.2
    buffer: int = 200
    drain_timeout: float = 15.0
    retry_initial: float = 0.2
    retry_max: float = 5.0


_STOP: Any = object()


@dataclass(eq=False)
class _Lane:
    partition: TopicPartition
    records: asyncio.Queue[Any] = field(default_factory=asyncio.Queue)
    task: asyncio.Task[None] | None = None
    # One past the last finished record: what a commit may store for this partition.
    finished: int | None = None
    committed: int | None = None
    paused: bool = False


class PartitionLanes(ConsumerRebalanceListener):  # type: ignore[misc]
    """Ordered lanes per partition for one consumer, and the commits of their progress.

    It is the consumer's rebalance listener too: aiokafka awaits ``on_partitions_revoked``
    before it rejoins the group, which is what lets the lanes finish and commit first.
    """

    def __init__(self, settings: LaneSettings, name: str = "") -> None:
        self.settings = settings
        self.name = name
        self._lanes: dict[TopicPartition, _Lane] = {}
        self._consumer: OffsetConsumer | None = None
        self._handle: Handle | None = None
        self._commit_lock = asyncio.Lock()
        # Partitions being given up: aiokafka keeps fetching them while the rebalance listener
        # runs, and a record queued then would start a new lane behind the retiring one's back.
        self._giving_up: set[TopicPartition] = set()
        self._closed = False

    def bind(self, consumer: OffsetConsumer, handle: Handle) -> None:
        """Start serving ``consumer``'s records to ``handle`` (again, after a restart)."""
        self._consumer = consumer
        self._handle = handle
        self._lanes = {}
        self._giving_up = set()
        self._closed = False

    @property
    def partitions(self) -> set[TopicPartition]:
        return set(self._lanes)

    def waiting(self, partition: TopicPartition) -> int:
        """Records of ``partition`` fetched but not begun: the consumer's position has moved
        past them, so consumer lag counts them only when they are added back."""
        lane = self._lanes.get(partition)
        return lane.records.qsize() if lane is not None else 0

    def dispatch(self, partition: TopicPartition, records: Iterable[ConsumerRecord[Any, Any]]) -> None:
        """Queue fetched records on their partition's lane. Synchronous on purpose: nothing can
        revoke the partition between the fetch that returned the records and their queueing."""
        consumer = self._require_consumer()
        if self._closed or partition in self._giving_up or partition not in consumer.assignment():
            # Fetched while the partition is being given up (or the consumer stops): whoever
            # owns it next, this consumer included, fetches them again from the committed offset.
            return
        lane = self._lanes.get(partition)
        if lane is None:
            lane = self._lanes[partition] = _Lane(partition)
            lane.task = asyncio.create_task(self._work(lane), name=f"lane {partition}")
        for record in records:
            lane.records.put_nowait(record)
        if not lane.paused and lane.records.qsize() >= self.settings.buffer:
            consumer.pause(partition)
            lane.paused = True

    async def commit(self) -> None:
        """Commit every lane's progress that is not committed yet."""
        await self._commit(list(self._lanes.values()))

    async def commit_periodically(self) -> None:
        """Commit every ``commit_interval`` seconds until cancelled."""
        while True:
            await asyncio.sleep(self.settings.commit_interval)
            try:
                await self.commit()
            except Exception:
                log.exception("committing offsets failed; trying again at the next interval", lanes=self.name)

    async def close(self) -> None:
        """Finish the records in hand on every lane, commit, and stop the lanes."""
        self._closed = True
        await self._retire(list(self._lanes))

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        self._giving_up |= set(revoked)
        await self._retire([tp for tp in revoked if tp in self._lanes])

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        """A new assignment starts every partition from its committed offset, so records
        dropped while partitions were given up are fetched again; lanes start with the first."""
        self._giving_up.clear()

    async def _retire(self, partitions: list[TopicPartition]) -> None:
        lanes = [self._lanes.pop(tp) for tp in partitions]
        if not lanes:
            return
        for lane in lanes:
            _drop_waiting(lane.records)
            lane.records.put_nowait(_STOP)
        tasks = [lane.task for lane in lanes if lane.task is not None]
        started = time.monotonic()
        _, late = await asyncio.wait(tasks, timeout=self.settings.drain_timeout) if tasks else (set(), set())
        for task in late:
            task.cancel()
        for task in late:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if late:
            log.warning(
                "handlers still busy when their partitions were given up; they will be redelivered",
                lanes=self.name,
                cancelled=len(late),
                waited_seconds=round(time.monotonic() - started, 1),
            )
        await self._commit(lanes)

    async def _commit(self, lanes: list[_Lane]) -> None:
        consumer = self._consumer
        if consumer is None:
            return
        async with self._commit_lock:
            assigned = consumer.assignment()
            due: dict[TopicPartition, int] = {}
            for lane in lanes:
                finished = lane.finished
                if finished is not None and finished != lane.committed and lane.partition in assigned:
                    due[lane.partition] = finished
            if not due:
                return
            try:
                await consumer.commit(due)
            except KafkaError as error:
                # A rebalance already handed the partitions over (their records will be handled
                # again by the next owner), or the broker is unreachable (tried again next time).
                log.warning("offset commit failed", lanes=self.name, error=type(error).__name__)
                return
            for lane in lanes:
                if lane.partition in due:
                    lane.committed = due[lane.partition]

    async def _work(self, lane: _Lane) -> None:
        consumer = self._require_consumer()
        while True:
            record = await lane.records.get()
            if record is _STOP:
                return
            await self._handle_until_done(record)
            lane.finished = record.offset + 1
            if lane.paused and lane.records.qsize() <= self.settings.buffer // 2:
                lane.paused = False
                if lane.partition in consumer.assignment():
                    consumer.resume(lane.partition)

    async def _handle_until_done(self, record: ConsumerRecord[Any, Any]) -> None:
        handle = self._handle
        assert handle is not None, "bind() first"
        attempt = 0
        while True:
            try:
                await handle(record)
            except Exception as error:  # noqa: BLE001 - the partition waits and tries again
                attempt += 1
                delay = min(self.settings.retry_max, self.settings.retry_initial * 2 ** (attempt - 1))
                log.error(
                    "message neither handled nor dead-lettered; its partition waits and retries",
                    topic=record.topic,
                    partition=record.partition,
                    offset=record.offset,
                    attempt=attempt,
                    retry_in_seconds=delay,
                    error=type(error).__name__,
                )
                await asyncio.sleep(delay)
            else:
                return

    def _require_consumer(self) -> OffsetConsumer:
        assert self._consumer is not None, "bind() first"
        return self._consumer


def _drop_waiting(queue: asyncio.Queue[Any]) -> None:
    """Forget records fetched but not begun: the partition's next owner fetches them again."""
    while True:
        try:
            queue.get_nowait()
        except asyncio.QueueEmpty:
            return
