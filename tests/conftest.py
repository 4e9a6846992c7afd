"""Shared test configuration: layer markers by folder, and the real servers for tests that need them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.infrastructure import Infrastructure, provide

LAYERS = ("unit", "integration", "e2e")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test is marked by the folder it lives in, so `-m unit` selects exactly that layer."""
    for item in items:
        parts = Path(str(item.fspath)).parts
        for layer in LAYERS:
            if layer in parts:
                item.add_marker(getattr(pytest.mark, layer))


@pytest.fixture(scope="session")
def infrastructure() -> Iterator[Infrastructure]:
    with provide() as infra:
        yield infra


@pytest.fixture
def namespace() -> str:
    """A unique prefix for this test's topics, consumer groups and databases."""
    return f"t{uuid.uuid4().hex[:12]}"
