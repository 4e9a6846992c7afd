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
def infrastructure(request: pytest.FixtureRequest) -> Iterator[Infrastructure]:
    """The real servers, shared by the whole session; where they came from is printed."""
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")

    def say(line: str) -> None:
        # Shown at once, outside pytest's capture: a first stack start takes minutes and
        # should not look like a hang.
        if reporter is None or capture is None:
            return
        with capture.global_and_fixture_disabled():
            reporter.write_line(line)

    with provide(say) as infra:
        say(
            f"servers: {infra.origin}: kafka {infra.kafka_bootstrap}, mongo {infra.mongo_url}, "
            f"smtp {infra.smtp_host}:{infra.smtp_port}"
        )
        yield infra


@pytest.fixture
def namespace() -> str:
    """A unique prefix for this test's topics, consumer groups and databases."""
    return f"t{uuid.uuid4().hex[:12]}"
