"""Audit the locked dependencies for known vulnerabilities with pip-audit.

    python -m deploy.dependency_audit        (``make audit``)

pip-audit asks a vulnerability service about every pinned ``name==version``: PyPI's JSON API
(``/pypi/<name>/<version>/json``, whose ``vulnerabilities`` come from the OSV database) or OSV's
own API. A service that cannot be reached does not make pip-audit fail: it reports each package
as "could not be audited" and still says "No known vulnerabilities found" with exit code 0. This
wrapper never lets that pass for an audit. It first asks each service about one pinned release through
pip-audit itself, uses the first that audits it, and counts every skipped package as a failure
to audit.

Exit codes: 0 every locked package was audited and none has a known vulnerability; 1 at least one
has; 3 the audit could not run or was incomplete (no service answered, packages skipped), with
the reason printed in a banner. CI tells 3 apart from 1 (see ``.ci/run``).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PIP_AUDIT = "pip-audit==2.10.1"
# pip-audit's names for PyPI's JSON API (per release) and OSV's API, in order of preference.
SERVICES = ("pypi", "osv")
VULNERABLE = 1
DID_NOT_RUN = 3
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)")


def locked_requirements() -> str:
    """Every package the lock file pins (runtime and development), as ``name==version`` lines."""
    command = ["uv", "export", "--frozen", "--no-hashes", "--no-emit-project", "--quiet"]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True).stdout


def pins(requirements: str) -> list[tuple[str, str]]:
    return [(m[1], m[2]) for line in requirements.splitlines() if (m := _PIN.match(line))]


def pip_audit(requirements: str, service: str) -> tuple[dict[str, object] | None, str]:
    """pip-audit's JSON report on ``requirements`` from ``service`` (None if it gave none),
    and the last line it wrote to stderr, which says why when it gave none."""
    with tempfile.TemporaryDirectory() as scratch:
        listing = Path(scratch) / "requirements.txt"
        listing.write_text(requirements)
        command = [
            "uvx", PIP_AUDIT, "--requirement", str(listing), "--no-deps", "--disable-pip",
            "--vulnerability-service", service, "--format", "json", "--progress-spinner", "off",
        ]  # fmt: skip
        run = subprocess.run(command, capture_output=True, text=True, check=False)
    said = (run.stderr.strip().splitlines() or [f"exit code {run.returncode}"])[-1]
    try:
        report = json.loads(run.stdout)
    except ValueError:
        return None, said
    return (report if isinstance(report, dict) else None), said


def service_answers(service: str, name: str, version: str) -> tuple[bool, str]:
    """Whether ``service`` really audits a release: pip-audit run on that one pin, which fails
    when the service is unreachable and skips the package when the service does not know it."""
    report, said = pip_audit(f"{name}=={version}\n", service)
    if report is None:
        return False, f"{service}: pip-audit gave no report: {said}"
    found = findings(report)
    if found.audited == 0:
        return False, f"{service}: {'; '.join(found.skipped) or 'nothing was audited'}"
    return True, f"{service}: audited {name}=={version}"


@dataclass(frozen=True)
class Findings:
    audited: int
    skipped: list[str]
    vulnerable: list[str]


def findings(report: dict[str, object]) -> Findings:
    """What pip-audit's JSON report says: packages audited, skipped (with why), vulnerable."""
    dependencies = report.get("dependencies", [])
    assert isinstance(dependencies, list)
    skipped, vulnerable, audited = [], [], 0
    for dependency in dependencies:
        name, version = dependency.get("name"), dependency.get("version", "?")
        if dependency.get("skip_reason"):
            skipped.append(f"{name}: {dependency['skip_reason']}")
            continue
        audited += 1
        for vulnerability in dependency.get("vulns", []):
            fixed = ", ".join(vulnerability.get("fix_versions", [])) or "no fixed release yet"
            vulnerable.append(f"{name} {version}: {vulnerability.get('id')} (fixed in {fixed})")
    return Findings(audited, skipped, vulnerable)


def banner(title: str, lines: list[str]) -> None:
    rule = "!" * 78
    print(f"\n{rule}\n!! {title}", file=sys.stderr)
    for line in lines:
        print(f"!!   {line}", file=sys.stderr)
    print(rule, file=sys.stderr)


def main() -> int:
    requirements = locked_requirements()
    pinned = pins(requirements)
    if not pinned:
        banner("DEPENDENCY AUDIT DID NOT RUN", ["`uv export` listed no pinned package"])
        return DID_NOT_RUN
    # The first pin is as good a question as any: either service knows every public release.
    answers = {service: service_answers(service, *pinned[0]) for service in SERVICES}
    service = next((name for name, (answered, _) in answers.items() if answered), None)
    if service is None:
        banner(
            "DEPENDENCY AUDIT DID NOT RUN: no vulnerability service answered",
            [*(detail for _, detail in answers.values()), "Run `make audit` where one of them is reachable."],
        )
        return DID_NOT_RUN
    print(f"auditing {len(pinned)} locked packages with {PIP_AUDIT} against {service}", file=sys.stderr)
    report, said = pip_audit(requirements, service)
    if report is None:
        banner("DEPENDENCY AUDIT DID NOT RUN: pip-audit gave no report", [said])
        return DID_NOT_RUN
    found = findings(report)
    if found.vulnerable:
        banner(f"KNOWN VULNERABILITIES in {len(found.vulnerable)} place(s)", found.vulnerable)
        return VULNERABLE
    if found.skipped:
        banner(
            f"DEPENDENCY AUDIT INCOMPLETE: {len(found.skipped)} of {len(pinned)} packages were not audited",
            found.skipped[:20]
            + ([f"... and {len(found.skipped) - 20} more"] if len(found.skipped) > 20 else []),
        )
        return DID_NOT_RUN
    print(f"dependency audit: {found.audited} locked packages, no known vulnerabilities ({service})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
