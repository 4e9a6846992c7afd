"""Shared test configuration: layer markers by folder, and the real servers for tests that need them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cleanup import remove_namespaces
from tests.support.infrastructure import Infrastructure, provide

LAYERS = ("unit", "integration", "e2e")

# Namespaces handed out in this session, removed from the servers when it ends.
_namespaces: set[str] = set()


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
        if infra.origin != "environment" and _namespaces:
            # Servers someone else runs are theirs to tidy; ours are left as we found them.
            topics, databases = remove_namespaces(infra, _namespaces)
            say(f"removed {topics} topics and {databases} databases of {len(_namespaces)} test namespaces")


@pytest.fixture
def namespace() -> str:
    """A unique prefix for this test's topics, consumer groups and databases."""
    name = f"t{uuid.uuid4().hex[:12]}"
    _namespaces.add(name)
    return name
