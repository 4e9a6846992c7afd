"""Reading the Kubernetes manifests under deploy/k8s/ and relating them to the services' code.

No cluster runs here, so tests check the manifests against what the code really does: the
environment variable names the settings classes read, the consumer groups and topics the
services use, the ports and health paths they serve.
"""

from __future__ import annotations

import importlib
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, SecretStr

from services.runtime.service import ServiceDefinition
from services.runtime.settings import PLATFORM_ENV_PREFIX, ServiceSettings

# libyaml's loader when PyYAML was built with it: the pure-Python one is slow enough to matter.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"

Manifest = dict[str, Any]
FieldPath = tuple[str, ...]


def manifest_files() -> list[Path]:
    return sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def kustomization() -> Manifest:
    loaded: Manifest = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    return loaded


@cache
def manifests() -> tuple[Manifest, ...]:
    """Every resource of every manifest file, in file order (read once; do not change them)."""
    found: list[Manifest] = []
    for path in manifest_files():
        found.extend(doc for doc in yaml.load_all(path.read_text(), Loader=_LOADER) if doc)
    return tuple(found)


@cache
def of_kind(kind: str) -> dict[str, Manifest]:
    """Resources of one kind by name (names are unique per kind here)."""
    found: dict[str, Manifest] = {}
    for doc in manifests():
        if doc["kind"] == kind:
            name = doc["metadata"]["name"]
            assert name not in found, f"two {kind} resources named {name}"
            found[name] = doc
    return found


def definition_of(service: str) -> ServiceDefinition:
    module = importlib.import_module(f"services.{service}.app")
    definition: ServiceDefinition = module.definition
    return definition


def container_of(deployment: Manifest) -> Manifest:
    containers: list[Manifest] = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, "one container per pod: the service"
    return containers[0]


@dataclass(frozen=True)
class EnvVar:
    """One environment variable a container gets, and where its value comes from."""

    name: str
    value: str | None = None  # a literal, from the manifest or a ConfigMap
    secret: tuple[str, str] | None = None  # (Secret name, key)
    from_field: bool = False  # the pod's own metadata (downward API)


def container_env(container: Manifest) -> dict[str, EnvVar]:
    """Every variable the container gets from ``envFrom`` ConfigMaps and ``env``; later wins,
    as in Kubernetes. A ConfigMap that is not in the manifests fails the lookup."""
    config_maps = of_kind("ConfigMap")
    env: dict[str, EnvVar] = {}
    for source in container.get("envFrom", []):
        assert "configMapRef" in source, f"envFrom only from ConfigMaps, not {source}"
        data = config_maps[source["configMapRef"]["name"]]["data"]
        env.update({name: EnvVar(name, value=str(value)) for name, value in data.items()})
    for item in container.get("env", []):
        name = item["name"]
        if "value" in item:
            env[name] = EnvVar(name, value=str(item["value"]))
        elif "secretKeyRef" in item.get("valueFrom", {}):
            ref = item["valueFrom"]["secretKeyRef"]
            env[name] = EnvVar(name, secret=(ref["name"], ref["key"]))
        else:
            assert "fieldRef" in item.get("valueFrom", {}), f"unexpected source for {name}: {item}"
            env[name] = EnvVar(name, from_field=True)
    return env


# ---------------------------------------------------------------- what the settings classes read


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    candidates = typing.get_args(annotation) if _is_union(annotation) else (annotation,)
    for candidate in candidates:
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _is_union(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


def _is_secret(annotation: Any) -> bool:
    if annotation is SecretStr:
        return True
    return _is_union(annotation) and SecretStr in typing.get_args(annotation)


def field_paths(model: type[BaseModel], parent: FieldPath = ()) -> dict[FieldPath, Any]:
    """Every field a settings class reads, nested ones as paths, with its annotation."""
    paths: dict[FieldPath, Any] = {}
    for name, info in model.model_fields.items():
        path = (*parent, name)
        paths[path] = info.annotation
        nested = _nested_model(info.annotation)
        if nested is not None:
            paths.update(field_paths(nested, path))
    return paths


def secret_paths(settings_cls: type[ServiceSettings]) -> set[FieldPath]:
    return {path for path, annotation in field_paths(settings_cls).items() if _is_secret(annotation)}


def env_prefixes(settings_cls: type[ServiceSettings]) -> tuple[str, ...]:
    """The service's own prefix, then the platform's, as the settings sources are ordered."""
    service_name = str(settings_cls.model_fields["service_name"].default)
    return (f"{service_name.upper()}_", PLATFORM_ENV_PREFIX)


def setting_of(settings_cls: type[ServiceSettings], env_name: str) -> FieldPath | None:
    """The field an environment variable sets in this settings class, or None if it reads none."""
    known = field_paths(settings_cls)
    for prefix in env_prefixes(settings_cls):
        if env_name.upper().startswith(prefix):
            path = tuple(part.lower() for part in env_name[len(prefix) :].split("__"))
            if path in known:
                return path
    return None


def iter_acls(user: Manifest) -> Iterator[tuple[str, str, frozenset[str]]]:
    """(resource type, name, operations) of a KafkaUser's simple authorisation."""
    for acl in user["spec"]["authorization"]["acls"]:
        resource = acl["resource"]
        assert resource.get("patternType", "literal") == "literal", "no prefix or wildcard grants"
        yield resource["type"], resource["name"], frozenset(acl["operations"])
