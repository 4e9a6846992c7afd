"""The operations guide and the topic plan state what the code and the manifests do."""

from __future__ import annotations

import re

from contracts.catalogue import TOPICS
from deploy.services import SERVICES
from tests.support.manifests import ROOT, container_env, container_of, definition_of, of_kind

DAY_MS = 86_400_000


def _table_rows(text: str, first_cell: str) -> dict[str, list[str]]:
    """Rows of the Markdown tables whose first cell matches, by that cell (backticks off)."""
    rows: dict[str, list[str]] = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and re.fullmatch(first_cell, cells[0]):
            rows[cells[0].strip("`")] = cells[1:]
    return rows


def test_the_topic_plan_lists_every_topic_with_its_partitions_retention_and_readers() -> None:
    plan = _table_rows((ROOT / "docs" / "topics-and-scaling.md").read_text(), r"`[a-z]+\.[a-z]+\.v\d+`")
    assert set(plan) == {spec.name for spec in TOPICS}
    topics = {t["spec"]["topicName"]: t for t in of_kind("KafkaTopic").values()}
    for spec in TOPICS:
        _key, partitions, kept, _writers, readers = plan[spec.name]
        assert int(partitions) == spec.partitions, spec.name
        config = topics[spec.name]["spec"]["config"]
        if config["cleanup.policy"] == "compact":
            assert kept == "compacted"
        else:
            assert kept == f"{config['retention.ms'] // DAY_MS} days", spec.name
        consumers = {name for name in SERVICES if spec in definition_of(name).consumes}
        named = {name for name in SERVICES if re.search(rf"\b{name}\b", readers)}
        assert named == consumers, f"{spec.name}: the plan says {named}, the code {consumers}"


def test_the_operations_guide_names_every_secret_and_key_the_deployment_reads() -> None:
    secrets_table = _table_rows((ROOT / "docs" / "operations.md").read_text(), r"`[a-z-]+`.*")
    documented = {
        (name, key)
        for first, cells in secrets_table.items()
        for name in re.findall(r"`([a-z0-9-]+)`", f"`{first}`")
        for key in re.findall(r"`([a-z.]+)`", cells[0])
    }
    referenced: set[tuple[str, str]] = set()
    for deployment in of_kind("Deployment").values():
        env = container_env(container_of(deployment))
        referenced.update(var.secret for var in env.values() if var.secret is not None)
        for volume in deployment["spec"]["template"]["spec"]["volumes"]:
            if "secret" in volume:
                secret = volume["secret"]
                referenced.update((secret["secretName"], item["key"]) for item in secret["items"])
    for auth in of_kind("TriggerAuthentication").values():
        referenced.update((ref["name"], ref["key"]) for ref in auth["spec"]["secretTargetRef"])
    assert referenced - documented == set(), "docs/operations.md, Secrets: add these"
