"""Unique-key claims keep a bounded resource within its bound, even when many replicas
race for it at once through separate connections to the Mongo-wire server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymongo import AsyncMongoClient

from services.runtime.claims import claim, claim_one_of, ensure_claim_indexes, release
from tests.support.infrastructure import Infrastructure

REPLICAS = 6


@pytest.fixture
async def clients(infrastructure: Infrastructure) -> AsyncIterator[list[AsyncMongoClient[dict[str, Any]]]]:
    """One client per simulated replica, each with its own connections."""
    opened: list[AsyncMongoClient[dict[str, Any]]] = [
        AsyncMongoClient(infrastructure.mongo_url) for _ in range(REPLICAS)
    ]
    yield opened
    for client in opened:
        await client.close()


async def test_forty_concurrent_claims_on_three_seats_give_exactly_three_holders(
    clients: list[AsyncMongoClient[dict[str, Any]]], namespace: str
) -> None:
    seats = [client[namespace]["seats"] for client in clients]
    await ensure_claim_indexes(seats[0])

    taken = await asyncio.gather(
        *(claim_one_of(seats[i % REPLICAS], "mentor-1", 3, f"match-{i}") for i in range(40))
    )

    winners = [key for key in taken if key is not None]
    assert sorted(winners) == ["mentor-1:0", "mentor-1:1", "mentor-1:2"]
    assert await seats[0].count_documents({}) == 3


async def test_a_retried_claim_keeps_its_seat_instead_of_taking_another(
    clients: list[AsyncMongoClient[dict[str, Any]]], namespace: str
) -> None:
    seats = clients[0][namespace]["seats"]
    await ensure_claim_indexes(seats)

    first = await claim_one_of(seats, "mentor-2", 4, "match-a")
    retries = await asyncio.gather(*(claim_one_of(seats, "mentor-2", 4, "match-a") for _ in range(5)))

    assert set(retries) == {first}
    assert await seats.count_documents({"owner": "match-a"}) == 1


async def test_a_released_seat_can_be_claimed_by_someone_else(
    clients: list[AsyncMongoClient[dict[str, Any]]], namespace: str
) -> None:
    seats = clients[0][namespace]["seats"]
    await ensure_claim_indexes(seats)
    assert await claim(seats, "email:ada@example.com", "E1")
    assert not await claim(seats, "email:ada@example.com", "E2")
    assert not await release(seats, "email:ada@example.com", "E2")  # not the holder
    assert await release(seats, "email:ada@example.com", "E1")
    assert await claim(seats, "email:ada@example.com", "E2")


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    capacity=st.integers(min_value=1, max_value=4),
    rounds=st.lists(st.tuples(st.integers(1, 8), st.integers(0, 3)), min_size=1, max_size=4),
)
async def test_seats_held_never_exceed_capacity_through_rounds_of_claims_and_releases(
    clients: list[AsyncMongoClient[dict[str, Any]]],
    namespace: str,
    capacity: int,
    rounds: list[tuple[int, int]],
) -> None:
    seats = [client[namespace]["seats_property"] for client in clients]
    await seats[0].drop()
    await ensure_claim_indexes(seats[0])
    counter = 0
    for claimants, releases in rounds:
        owners = [f"m{counter + i}" for i in range(claimants)]
        counter += claimants
        await asyncio.gather(
            *(claim_one_of(seats[i % REPLICAS], "mentor", capacity, o) for i, o in enumerate(owners))
        )
        held = [doc async for doc in seats[0].find({})]
        assert len(held) <= capacity
        for doc in held[:releases]:
            await release(seats[0], doc["_id"], doc["owner"])
