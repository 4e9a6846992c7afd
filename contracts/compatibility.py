"""Detecting breaking changes between two JSON Schemas of the same message version.

Within a version, producers and consumers must keep understanding each other: only optional
fields may be added. ``breaking_changes`` lists every way a new schema would reject or
misread data the old one allowed: a removed field, a new required field, a narrowed type,
fewer enum values, or tighter limits.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

_TIGHTER_IF_LOWER = ("maxLength", "maxItems", "maximum", "exclusiveMaximum")
_TIGHTER_IF_HIGHER = ("minLength", "minItems", "minimum", "exclusiveMinimum")


def inline_refs(schema: Schema) -> Schema:
    """The schema with every local ``$ref`` replaced by its definition."""
    definitions: Schema = schema.get("$defs", {})

    def resolve(node: Any, depth: int = 0) -> Any:
        if depth > 50:
            raise ValueError("schema nesting too deep (recursive $ref?)")
        if isinstance(node, dict):
            if "$ref" in node:
                name = node["$ref"].rsplit("/", 1)[-1]
                merged = {**definitions[name], **{k: v for k, v in node.items() if k != "$ref"}}
                return resolve(merged, depth + 1)
            return {k: resolve(v, depth + 1) for k, v in node.items() if k != "$defs"}
        if isinstance(node, list):
            return [resolve(item, depth + 1) for item in node]
        return node

    resolved: Schema = resolve(schema)
    return resolved


def _variants(node: Schema) -> list[Schema]:
    for key in ("anyOf", "oneOf"):
        if key in node:
            return [v for variant in node[key] for v in _variants(variant)]
    if isinstance(node.get("type"), list):
        return [{**node, "type": t} for t in node["type"]]
    return [node]


def _kind(variant: Schema) -> str:
    if "const" in variant:
        return f"const:{variant['const']!r}"
    if "enum" in variant:
        return f"enum:{variant.get('type', 'any')}"
    return str(variant.get("type", "any"))


def _compare(old: Schema, new: Schema, path: str, problems: list[str]) -> None:
    new_by_kind: dict[str, Schema] = {}
    for variant in _variants(new):
        new_by_kind.setdefault(_kind(variant), variant)
    accepts_anything = "any" in new_by_kind
    for variant in _variants(old):
        kind = _kind(variant)
        counterpart = new_by_kind.get(kind)
        if counterpart is None and kind.startswith("const:"):
            # A const may live on inside a wider enum or type.
            value = variant["const"]
            if any(value in (v.get("enum") or ()) for v in new_by_kind.values()):
                continue
        if counterpart is None:
            if not accepts_anything:
                problems.append(f"narrowed type at {path or '<root>'}: {kind} is no longer accepted")
            continue
        _compare_variant(variant, counterpart, path, problems)


def _compare_variant(old: Schema, new: Schema, path: str, problems: list[str]) -> None:
    where = path or "<root>"
    if "enum" in old:
        allowed: list[Any] = new["enum"] if "enum" in new else old["enum"]
        removed = [v for v in old["enum"] if v not in allowed]
        if removed:
            problems.append(f"narrowed enum at {where}: {removed} no longer allowed")
    for key in _TIGHTER_IF_LOWER:
        if key in new and (key not in old or new[key] < old[key]):
            problems.append(f"tighter limit at {where}: {key} {old.get(key, 'unset')} -> {new[key]}")
    for key in _TIGHTER_IF_HIGHER:
        if key in new and (key not in old or new[key] > old[key]):
            problems.append(f"tighter limit at {where}: {key} {old.get(key, 'unset')} -> {new[key]}")
    if "pattern" in new and new.get("pattern") != old.get("pattern"):
        problems.append(f"changed pattern at {where}")
    old_props: Schema = old.get("properties", {})
    new_props: Schema = new.get("properties", {})
    for name, old_prop in old_props.items():
        child = f"{path}.{name}" if path else name
        if name not in new_props:
            problems.append(f"removed field {child}")
            continue
        _compare(old_prop, new_props[name], child, problems)
    newly_required = sorted(set(new.get("required", ())) - set(old.get("required", ())))
    for name in newly_required:
        child = f"{path}.{name}" if path else name
        problems.append(f"new required field {child}")
    if "items" in old and "items" in new:
        _compare(old["items"], new["items"], f"{path}[]", problems)


def breaking_changes(old: Schema, new: Schema) -> list[str]:
    """Human-readable reasons why data valid under ``old`` may be refused under ``new``."""
    problems: list[str] = []
    _compare(inline_refs(old), inline_refs(new), "", problems)
    return problems
