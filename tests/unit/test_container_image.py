"""The container image (deploy/Dockerfile) holds what the services need and nothing else.

No Docker engine runs here, so the Dockerfile and .dockerignore are read as text and checked
against the repository: what they copy exists and reaches the build, every service and all
it imports is inside, only the locked runtime dependencies are installed, and the process
runs as a numeric non-root user.
"""

from __future__ import annotations

import http.server
import importlib.metadata
import re
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy import healthcheck
from deploy.services import SERVICES, USAGE_EXIT_CODE
from tests.support.container_image import (
    ROOT,
    copied_sources,
    first_party_closure,
    image_user,
    imports_of,
    in_build_context,
    stages,
)
from tests.support.manifests import definition_of, env_prefixes

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_the_image_runs_as_a_numeric_non_root_user() -> None:
    uid, gid = image_user()
    assert uid > 0
    assert gid > 0
    final = stages()[-1]
    last_user = max(i for i, instruction in enumerate(final.instructions) if instruction.keyword == "USER")
    assert all(i.keyword != "RUN" for i in final.instructions[last_user:]), "nothing runs as root after USER"


def test_both_stages_build_on_the_same_slim_python_the_project_requires() -> None:
    images = {stage.image for stage in stages()}
    assert len(images) == 1, "the venv's python links to the build stage's interpreter"
    (image,) = images
    assert "slim" in image
    required = re.search(r"(\d+\.\d+)", PYPROJECT["project"]["requires-python"])
    assert required is not None
    assert f"python:{required.group(1)}" in image


def test_only_the_locked_runtime_dependencies_are_installed() -> None:
    installs = [i.arguments for stage in stages() for i in stage.all("RUN") if "sync" in i.arguments]
    assert installs, "dependencies come from uv.lock"
    for command in installs:
        assert "--frozen" in command, command
        assert "--no-dev" in command, command
    final = stages()[-1]
    assert not [i for i in final.all("RUN") if re.search(r"\b(pip|uv)\b", i.arguments)], (
        "nothing installed late"
    )
    assert [w for i in final.all("COPY") for w in i.words() if w.startswith("--from")], "the venv comes built"


def _distributions_imported_by(paths: list[Path]) -> set[str]:
    owners = importlib.metadata.packages_distributions()
    found: set[str] = set()
    for path in paths:
        for module in imports_of(path):
            found.update(_normalised(d) for d in owners.get(module.split(".")[0], []))
    return found


def _normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert match is not None
    return _normalised(match.group(0))


def test_a_package_only_the_tests_import_is_not_a_runtime_dependency() -> None:
    shipped = [p for source in copied_sources() for p in _python_files(ROOT / source)]
    tests = list((ROOT / "tests").rglob("*.py"))
    runtime = {_requirement_name(r) for r in PYPROJECT["project"]["dependencies"]}
    dev = {_requirement_name(r) for r in PYPROJECT["dependency-groups"]["dev"]}
    assert runtime & dev == set()
    only_tests = (_distributions_imported_by(tests) - _distributions_imported_by(shipped)) & runtime
    assert only_tests == set(), f"move {sorted(only_tests)} to the dev group: the image installs runtime ones"


def _python_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path] if path.suffix == ".py" else []
    return list(path.rglob("*.py"))


def test_every_path_the_image_copies_exists_and_reaches_the_build_context() -> None:
    for source in copied_sources():
        assert (ROOT / source).exists(), f"COPY {source}: no such path"
        assert in_build_context(source), f"COPY {source}: left out by .dockerignore"


def test_the_build_context_leaves_out_local_state_and_tests() -> None:
    for path in (".venv/bin/python", ".stack/logs/kafka.log", ".git/config", "tests/unit/test_x.py", ".env"):
        assert not in_build_context(path), path
    assert not in_build_context("services/profile/__pycache__/app.cpython-311.pyc")
    assert in_build_context("services/notification/templates/badge_awarded.html.j2")


def _in_image(path: Path) -> bool:
    relative = path.relative_to(ROOT)
    return any(relative == Path(src) or Path(src) in relative.parents for src in copied_sources())


def test_every_service_and_all_it_imports_is_in_the_image() -> None:
    for service in SERVICES:
        missing = [p for p in first_party_closure(f"services.{service}.__main__") if not _in_image(p)]
        assert missing == [], f"services.{service} needs {missing}, which the image does not copy"


def test_every_command_the_project_installs_is_in_the_image() -> None:
    for name, target in PYPROJECT["project"].get("scripts", {}).items():
        module = target.split(":")[0]
        missing = [p for p in first_party_closure(module) if not _in_image(p)]
        assert missing == [], f"the {name} command needs {missing}"


def test_the_health_check_and_the_default_command_are_in_the_image() -> None:
    final = stages()[-1]
    (check,) = final.all("HEALTHCHECK")
    (cmd,) = final.all("CMD")
    assert check.words() == ["python", "-m", "deploy.healthcheck"]
    assert cmd.words() == ["python", "-m", "deploy.services"]
    for module in ("deploy.healthcheck", "deploy.services"):
        files = first_party_closure(module)
        assert files, module
        assert all(_in_image(p) for p in files), module


def test_a_container_started_without_a_service_names_the_commands_and_stops() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "deploy.services"], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert run.returncode == USAGE_EXIT_CODE
    for service in SERVICES:
        assert f"python -m services.{service}" in run.stderr


# ---------------------------------------------------------------- the health check


def test_the_health_check_finds_the_service_on_the_command_line() -> None:
    assert healthcheck.service_in(["python", "-m", "services.matching"]) == "matching"
    assert (
        healthcheck.service_in(["/sbin/docker-init", "--", "python", "-m", "services.profile", ""])
        == "profile"
    )
    assert healthcheck.service_in(["python", "-m", "deploy.services"]) is None
    assert healthcheck.service_in(["python", "-m", "services.runtime"]) is None


@pytest.mark.parametrize(
    "env",
    [{}, {"MENTORSHIP_HTTP_PORT": "9000"}, {"MENTORSHIP_HTTP_PORT": "9000", "{SERVICE}_HTTP_PORT": "9100"}],
    ids=["defaults", "platform-wide", "own beats platform-wide"],
)
def test_the_health_check_asks_the_port_the_service_settings_resolve(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for service in SERVICES:
        settings_cls = definition_of(service).settings_cls
        for prefix in env_prefixes(settings_cls):
            monkeypatch.delenv(f"{prefix}HTTP_PORT", raising=False)
        resolved = {name.replace("{SERVICE}", service.upper()): value for name, value in env.items()}
        for name, value in resolved.items():
            monkeypatch.setenv(name, value)
        assert healthcheck.port_of(service, resolved) == settings_cls().http_port, service


class _Health(http.server.BaseHTTPRequestHandler):
    ready = True

    def do_GET(self) -> None:
        status = 200 if self.path == healthcheck.READY_PATH and self.ready else 503
        self.send_response(status)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[http.server.HTTPServer]:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_the_health_check_passes_only_while_the_service_reports_ready(
    health_server: http.server.HTTPServer, tmp_path: Path
) -> None:
    cmdline = tmp_path / "cmdline"
    cmdline.write_bytes(b"python\0-m\0services.scheduling\0")
    env = {"SCHEDULING_HTTP_PORT": str(health_server.server_address[1])}
    _Health.ready = True
    assert healthcheck.main(cmdline, env) == 0
    _Health.ready = False
    assert healthcheck.main(cmdline, env) == 1
    cmdline.write_bytes(b"python\0-m\0deploy.services\0")
    assert healthcheck.main(cmdline, env) == 1
