"""Generate the published contract files: JSON Schemas, examples and the AsyncAPI document.

    python -m contracts.export          # write them (make contracts)
    python -m contracts.export --check  # exit 1 when the checked-in files are stale

The files are checked in because outside systems, not all written in Python, build their
producers from them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from contracts.catalogue import TOPICS
from contracts.compatibility import breaking_changes
from contracts.envelope import Envelope
from contracts.examples import example
from contracts.programmes import programmes_schema

ROOT = Path(__file__).resolve().parent
ASYNCAPI = ROOT / "asyncapi.json"


def schema_name(message_cls: type[Envelope]) -> str:
    return f"{message_cls.message_type()}.v{message_cls.schema_version()}"


def message_schema(message_cls: type[Envelope]) -> dict[str, Any]:
    schema: dict[str, Any] = message_cls.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"urn:mentorship:contracts:{schema_name(message_cls)}"
    schema["title"] = message_cls.__name__
    schema["description"] = " ".join((message_cls.__doc__ or message_cls.__name__).split())
    return schema


def asyncapi_document() -> dict[str, Any]:
    """One AsyncAPI 3.0 document for the whole platform, from the topic registry."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for spec in TOPICS:
        channel_id = spec.name.replace(".", "_")
        channel_messages: dict[str, Any] = {}
        for message_cls in spec.messages:
            name = message_cls.__name__
            messages[name] = {
                "name": message_cls.message_type(),
                "title": name,
                "summary": " ".join((message_cls.__doc__ or name).split()),
                "contentType": "application/json",
                "payload": {"$ref": f"schemas/{schema_name(message_cls)}.json"},
                "bindings": {"kafka": {"key": {"type": "string", "description": spec.key}}},
                "examples": [{"payload": example(message_cls)}],
            }
            channel_messages[name] = {"$ref": f"#/components/messages/{name}"}
        channels[channel_id] = {
            "address": spec.name,
            "description": spec.description,
            "messages": channel_messages,
            "bindings": {"kafka": {"topic": spec.name, "partitions": spec.partitions}},
        }
        operations[f"{spec.owner}_sends_{channel_id}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "summary": f"{spec.owner} publishes to {spec.name}",
        }
        for consumer in spec.consumers:
            operations[f"{consumer}_receives_{channel_id}"] = {
                "action": "receive",
                "channel": {"$ref": f"#/channels/{channel_id}"},
                "summary": f"{consumer} consumes {spec.name}; failures go to {spec.dead_letter}",
            }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Continuous mentorship platform",
            "version": "1.0.0",
            "description": "Every message that crosses a service boundary. Keys are entity ids; "
            "each topic has a dead-letter topic named <topic>.dlq.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def render(document: Any) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def expected_files(root: Path = ROOT) -> dict[Path, str]:
    """Every generated file and its content, as the current models define them."""
    files: dict[Path, str] = {}
    for spec in TOPICS:
        for message_cls in spec.messages:
            name = f"{schema_name(message_cls)}.json"
            files[root / "schemas" / name] = render(message_schema(message_cls))
            files[root / "examples" / name] = render(example(message_cls))
    files[root / "schemas" / "programmes.json"] = render(programmes_schema())
    files[root / ASYNCAPI.name] = render(asyncapi_document())
    return files


def stale_files(root: Path = ROOT) -> list[str]:
    """Generated files under ``root`` that are missing, differ from the models, or no longer belong."""
    expected = expected_files(root)
    stale = [
        str(p.relative_to(root)) for p, text in expected.items() if not p.exists() or p.read_text() != text
    ]
    for folder in (root / "schemas", root / "examples"):
        for path in folder.glob("*.json") if folder.exists() else ():
            if path not in expected:
                stale.append(f"{path.relative_to(root)} (no longer generated)")
    return sorted(stale)


class BreakingChange(Exception):
    """A model change would break a published schema version."""


def incompatibilities(root: Path = ROOT) -> dict[str, list[str]]:
    """For each checked-in message schema, the ways the current model breaks it."""
    found: dict[str, list[str]] = {}
    for path, text in expected_files(root).items():
        if path.parent.name != "schemas" or path.name == "programmes.json" or not path.exists():
            continue
        problems = breaking_changes(json.loads(path.read_text()), json.loads(text))
        if problems:
            found[path.stem] = problems
    return found


def explain(found: dict[str, list[str]]) -> str:
    lines = []
    for name, problems in sorted(found.items()):
        lines.append(f"{name} would change incompatibly:")
        lines.extend(f"  - {problem}" for problem in problems)
    lines.append(
        "Within a version only optional fields may be added. Keep the published fields as they are, "
        "or make a new version: a new message class with version 2 on a new topic (<name>.v2), "
        "published beside the old one until every consumer has moved."
    )
    return "\n".join(lines)


def write(root: Path = ROOT) -> None:
    """Write the generated files under ``root``; refuses to overwrite a schema incompatibly."""
    found = incompatibilities(root)
    if found:
        raise BreakingChange(explain(found))
    for path, text in expected_files(root).items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="contracts.export")
    parser.add_argument("--check", action="store_true", help="only report stale files")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files()
        if stale:
            print("Stale contract files (run `make contracts`):\n  " + "\n  ".join(stale))
            return 1
        return 0
    try:
        write()
    except BreakingChange as error:
        print(error, file=sys.stderr)
        return 1
    print(f"Wrote {len(expected_files())} files under {ROOT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
