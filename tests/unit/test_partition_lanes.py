"""The lanes that handle a consumer's partitions side by side: order within a partition, commits
only of finished work, hand-over on a rebalance, bounded buffering (an in-memory consumer)."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import ConsumerRecord, TopicPartition
from hypothesis import given, settings
from hypothesis import strategies as st

from services.runtime.lanes import LaneSettings, PartitionLanes

TOPIC = "t"
FAST = LaneSettings(commit_interval=0.001, buffer=1000, drain_timeout=5, retry_initial=0.001, retry_max=0.002)


@dataclass
class MemoryConsumer:
    """Records what the lanes ask of a consumer: commits, pauses and resumes."""

    assigned: set[TopicPartition]
    commits: list[dict[TopicPartition, int]] = field(default_factory=list)
    paused: set[TopicPartition] = field(default_factory=set)
    pauses: int = 0

    def assignment(self) -> set[TopicPartition]:
        return set(self.assigned)

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        await asyncio.sleep(0)  # a round trip: other lanes move on meanwhile
        self.commits.append(dict(offsets))

    def pause(self, *partitions: TopicPartition) -> None:
        self.paused.update(partitions)
        self.pauses += 1

    def resume(self, *partitions: TopicPartition) -> None:
        self.paused.difference_update(partitions)

    def last_committed(self, partition: TopicPartition) -> int | None:
        found = [c[partition] for c in self.commits if partition in c]
        return found[-1] if found else None


def record(partition: int, offset: int) -> ConsumerRecord[Any, Any]:
    return ConsumerRecord(
        topic=TOPIC,
        partition=partition,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=None,
        value=None,
        checksum=None,
        serialized_key_size=0,
        serialized_value_size=0,
        headers=(),
    )


def partitions(count: int) -> set[TopicPartition]:
    return {TopicPartition(TOPIC, p) for p in range(count)}


async def until(condition: Callable[[], bool]) -> None:
    """Let the lanes run until ``condition`` holds (closing drops records not begun yet)."""
    for _ in range(10_000):
        if condition():
            return
        await asyncio.sleep(0.0005)
    raise AssertionError("the lanes never got there")


async def test_a_slow_partition_holds_back_only_its_own_later_records() -> None:
    release = asyncio.Event()
    handled: list[tuple[int, int]] = []

    async def handle(r: ConsumerRecord[Any, Any]) -> None:
        if (r.partition, r.offset) == (0, 0):
            await release.wait()
        handled.append((r.partition, r.offset))

    consumer = MemoryConsumer(partitions(2))
    lanes = PartitionLanes(FAST)
    lanes.bind(consumer, handle)
    lanes.dispatch(TopicPartition(TOPIC, 0), [record(0, 0), record(0, 1)])
    lanes.dispatch(TopicPartition(TOPIC, 1), [record(1, 0), record(1, 1)])
    for _ in range(20):
        await asyncio.sleep(0)

    assert handled == [(1, 0), (1, 1)]
    await lanes.commit()
    assert consumer.commits == [{TopicPartition(TOPIC, 1): 2}]
    release.set()
    await until(lambda: len(handled) == 4)
    await lanes.close()
    assert handled[2:] == [(0, 0), (0, 1)]
    assert consumer.last_committed(TopicPartition(TOPIC, 0)) == 2


async def test_a_record_that_keeps_failing_is_retried_and_nothing_after_it_is_committed() -> None:
    failures = {"left": 5}
    handled: list[int] = []

    async def handle(r: ConsumerRecord[Any, Any]) -> None:
        if r.offset == 1 and failures["left"] > 0:
            failures["left"] -= 1
            raise ConnectionError("the dead-letter topic is unreachable")
        handled.append(r.offset)

    consumer = MemoryConsumer(partitions(1))
    lanes = PartitionLanes(FAST)
    lanes.bind(consumer, handle)
    lanes.dispatch(TopicPartition(TOPIC, 0), [record(0, 0), record(0, 1), record(0, 2)])
    await asyncio.sleep(0.001)
    await lanes.commit()
    committed_while_failing = consumer.last_committed(TopicPartition(TOPIC, 0))
    await until(lambda: len(handled) == 3)
    await lanes.close()

    assert committed_while_failing in (None, 1)
    assert handled == [0, 1, 2]
    assert consumer.last_committed(TopicPartition(TOPIC, 0)) == 3


async def test_a_revoked_partition_finishes_the_record_in_hand_commits_it_and_drops_the_rest() -> None:
    in_hand = asyncio.Event()
    release = asyncio.Event()
    handled: list[int] = []

    async def handle(r: ConsumerRecord[Any, Any]) -> None:
        if r.offset == 3:
            in_hand.set()
            await release.wait()
        handled.append(r.offset)

    partition = TopicPartition(TOPIC, 0)
    consumer = MemoryConsumer({partition})
    lanes = PartitionLanes(FAST)
    lanes.bind(consumer, handle)
    lanes.dispatch(partition, [record(0, offset) for offset in range(10)])
    await in_hand.wait()
    revoking = asyncio.create_task(lanes.on_partitions_revoked({partition}))
    await asyncio.sleep(0.01)
    assert not revoking.done(), "the revocation must wait for the record in hand"
    release.set()
    await revoking

    assert handled == [0, 1, 2, 3]
    assert consumer.last_committed(partition) == 4  # the next owner starts at offset 4
    assert lanes.partitions == set()


async def test_records_fetched_while_their_partition_is_given_up_wait_for_the_next_assignment() -> None:
    in_hand = asyncio.Event()
    release = asyncio.Event()
    handled: list[int] = []

    async def handle(r: ConsumerRecord[Any, Any]) -> None:
        if r.offset == 0:
            in_hand.set()
            await release.wait()
        handled.append(r.offset)

    partition = TopicPartition(TOPIC, 0)
    consumer = MemoryConsumer({partition})
    lanes = PartitionLanes(FAST)
    lanes.bind(consumer, handle)
    lanes.dispatch(partition, [record(0, 0)])
    await in_hand.wait()
    revoking = asyncio.create_task(lanes.on_partitions_revoked({partition}))
    await asyncio.sleep(0.01)
    # aiokafka keeps fetching while the listener runs: these must not start a second lane.
    lanes.dispatch(partition, [record(0, 1), record(0, 2)])
    release.set()
    await revoking
    await asyncio.sleep(0.01)

    assert handled == [0]
    assert consumer.last_committed(partition) == 1
    assert lanes.partitions == set()

    await lanes.on_partitions_assigned({partition})
    lanes.dispatch(partition, [record(0, 1), record(0, 2)])  # fetched again from offset 1
    await until(lambda: handled == [0, 1, 2])
    await lanes.close()
    assert consumer.last_committed(partition) == 3


async def test_a_handler_stuck_past_the_drain_timeout_is_cancelled_and_its_record_left_uncommitted() -> None:
    async def handle(r: ConsumerRecord[Any, Any]) -> None:
        if r.offset == 1:
            await asyncio.Event().wait()  # never returns

    partition = TopicPartition(TOPIC, 0)
    consumer = MemoryConsumer({partition})
    lanes = PartitionLanes(LaneSettings(commit_interval=1, drain_timeout=0.05))
    lanes.bind(consumer, handle)
    lanes.dispatch(partition, [record(0, 0), record(0, 1), record(0, 2)])
    await asyncio.sleep(0.01)
    await lanes.close()

    assert consumer.last_committed(partition) == 1


async def test_a_partition_whose_lane_is_full_is_paused_and_resumed_once_half_of_it_is_done() -> None:
    gate = asyncio.Event()

    async def handle(r: ConsumerRecord[Any, Any]) -> None:
        await gate.wait()

    partition = TopicPartition(TOPIC, 0)
    consumer = MemoryConsumer({partition})
    lanes = PartitionLanes(LaneSettings(commit_interval=1, buffer=10))
    lanes.bind(consumer, handle)
    lanes.dispatch(partition, [record(0, offset) for offset in range(12)])
    assert consumer.paused == {partition}
    gate.set()
    await until(lambda: consumer.paused == set())
    await lanes.close()

    assert consumer.paused == set()
    assert consumer.pauses == 1


async def test_records_of_a_partition_no_longer_assigned_are_not_handled() -> None:
    handled: list[int] = []

    async def handle(r: ConsumerRecord[Any, Any]) -> None:
        handled.append(r.offset)

    consumer = MemoryConsumer(set())
    lanes = PartitionLanes(FAST)
    lanes.bind(consumer, handle)
    lanes.dispatch(TopicPartition(TOPIC, 0), [record(0, 0)])
    await lanes.close()

    assert handled == []
    assert consumer.commits == []


# One step of a scenario: a batch of records fetched for a partition, a pause, or a commit.
steps = st.lists(
    st.one_of(
        st.tuples(st.just("fetch"), st.integers(0, 3), st.integers(1, 6)),
        st.tuples(st.just("wait"), st.integers(0, 5), st.just(0)),
        st.tuples(st.just("commit"), st.just(0), st.just(0)),
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(
    steps=steps,
    failures=st.dictionaries(st.tuples(st.integers(0, 3), st.integers(0, 30)), st.integers(1, 3), max_size=6),
    delays=st.dictionaries(st.tuples(st.integers(0, 3), st.integers(0, 30)), st.integers(1, 4), max_size=10),
)
def test_commits_never_pass_an_unfinished_record_and_end_at_the_last_finished_one(
    steps: list[tuple[str, int, int]],
    failures: dict[tuple[int, int], int],
    delays: dict[tuple[int, int], int],
) -> None:
    """Whatever the interleaving of fetches, slow or failing handlers and commits: each partition
    is handled in offset order, each offset committed is one past a record that was handled
    together with every record before it, commits never go back, and closing commits all."""
    handled: dict[int, list[int]] = defaultdict(list)
    commits_seen: list[tuple[dict[TopicPartition, int], dict[int, list[int]]]] = []
    left = dict(failures)

    async def handle(r: ConsumerRecord[Any, Any]) -> None:
        for _ in range(delays.get((r.partition, r.offset), 0)):
            await asyncio.sleep(0)
        if left.get((r.partition, r.offset), 0) > 0:
            left[(r.partition, r.offset)] -= 1
            raise ConnectionError("transient")
        handled[r.partition].append(r.offset)

    class Watching(MemoryConsumer):
        async def commit(self, offsets: dict[TopicPartition, int]) -> None:
            commits_seen.append((dict(offsets), {p: list(o) for p, o in handled.items()}))
            await super().commit(offsets)

    async def scenario() -> Watching:
        consumer = Watching(partitions(4))
        lanes = PartitionLanes(FAST)
        lanes.bind(consumer, handle)
        next_offset: dict[int, int] = defaultdict(int)
        for kind, partition, count in steps:
            if kind == "fetch":
                first = next_offset[partition]
                next_offset[partition] += count
                batch = [record(partition, o) for o in range(first, first + count)]
                lanes.dispatch(TopicPartition(TOPIC, partition), batch)
            elif kind == "wait":
                for _ in range(partition):
                    await asyncio.sleep(0)
            else:
                await lanes.commit()
        await until(lambda: all(len(handled[p]) == n for p, n in next_offset.items()))
        await lanes.close()
        for partition, count in next_offset.items():
            assert handled[partition] == list(range(count)), "handled in order, each once"
            assert consumer.last_committed(TopicPartition(TOPIC, partition)) == count
        return consumer

    consumer = asyncio.run(scenario())
    last: dict[TopicPartition, int] = {}
    for offsets, handled_then in commits_seen:
        for tp, offset in offsets.items():
            assert handled_then.get(tp.partition, [])[:offset] == list(range(offset)), (
                "committed past a record not handled yet"
            )
            assert offset > last.get(tp, 0), "a commit went back or repeated"
            last[tp] = offset
    assert consumer.commits == [offsets for offsets, _ in commits_seen]
