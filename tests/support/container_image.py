"""Reading deploy/Dockerfile and .dockerignore without a Docker engine.

Enough of both formats for what the tests check: instructions per build stage (continuation
lines joined, comments dropped, ``ARG`` defaults substituted in ``FROM``), and whether the
build context holds a path (Docker's rules: patterns in order, the last match wins, ``!``
takes a path back in, a matched folder takes everything below it).
"""

from __future__ import annotations

import ast
import fnmatch
import json
import re
import shlex
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
FIRST_PARTY = ("contracts", "services", "deploy")


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str

    def words(self) -> list[str]:
        """The arguments as a list: JSON (exec form) or shell words; a HEALTHCHECK's command
        without its options."""
        text = self.arguments.strip()
        if self.keyword == "HEALTHCHECK":
            text = text.split(" CMD ", 1)[1].strip()
        if text.startswith("["):
            parsed: list[str] = json.loads(text)
            return parsed
        return shlex.split(text)


@dataclass
class Stage:
    image: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]


def _logical_lines(text: str) -> list[str]:
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if stripped.startswith("#") or not stripped:
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    return lines


def stages(text: str | None = None) -> list[Stage]:
    """The build stages of the Dockerfile, in order."""
    source = DOCKERFILE.read_text() if text is None else text
    args: dict[str, str] = {}
    found: list[Stage] = []
    for line in _logical_lines(source):
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "ARG" and not found:
            name, _, default = rest.partition("=")
            args[name.strip()] = default.strip()
        elif keyword == "FROM":
            image = re.sub(r"\$\{?(\w+)\}?", lambda m: args[m.group(1)], rest.split()[0])
            parts = rest.split()
            stage_name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
            found.append(Stage(image=image, name=stage_name))
        else:
            assert found, f"{keyword} before the first FROM"
            found[-1].instructions.append(Instruction(keyword, rest))
    return found


def image_user() -> tuple[int, int]:
    """The numeric user and group the final stage runs as."""
    (user,) = [i.arguments.strip() for i in stages()[-1].all("USER")][-1:]
    uid, _, gid = user.partition(":")
    return int(uid), int(gid or uid)


def copied_sources() -> list[str]:
    """Paths the build copies from the context (``COPY`` without ``--from``), as written."""
    sources: list[str] = []
    for stage in stages():
        for copy in stage.all("COPY"):
            words = [w for w in copy.words() if not w.startswith("--")]
            if any(w.startswith("--from") for w in copy.words()):
                continue
            sources.extend(w.rstrip("/") for w in words[:-1])
    return sources


def in_build_context(path: str, ignore_text: str | None = None) -> bool:
    """Whether .dockerignore lets ``path`` (relative to the repository root) into the context."""
    text = DOCKERIGNORE.read_text() if ignore_text is None else ignore_text
    rules = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    parts = Path(path).parts
    selves_and_parents = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    included = True
    for rule in rules:
        negated = rule.startswith("!")
        pattern = rule.lstrip("!").strip("/")
        if any(fnmatch.fnmatchcase(candidate, pattern) for candidate in selves_and_parents):
            included = negated
    return included


def module_file(module: str) -> Path | None:
    """The file of a first-party module, or None for a third-party one."""
    if module.split(".")[0] not in FIRST_PARTY:
        return None
    base = ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


@cache
def imports_of(path: Path) -> set[str]:
    """Absolute module names a file imports (``from a import b`` counts ``a`` and ``a.b``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def first_party_closure(module: str) -> set[Path]:
    """Every first-party file that running ``module`` loads, with its packages' __init__ files."""
    seen: set[Path] = set()
    pending = [module]
    while pending:
        name = pending.pop()
        parts = name.split(".")
        for depth in range(1, len(parts) + 1):
            path = module_file(".".join(parts[:depth]))
            if path is not None and path not in seen:
                seen.add(path)
                pending.extend(imports_of(path))
    return seen
