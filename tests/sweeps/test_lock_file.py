"""requirements.lock (./scripts/lock.sh) pins every dependency pyproject.toml names, within its range."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s\\;]+)", re.MULTILINE)


def _locked() -> dict[str, str]:
    return {canonicalize_name(name): version for name, version in PIN.findall((ROOT / "requirements.lock").read_text())}


def _declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = list(project["dependencies"])
    for extra in ("demo", "test"):
        lines += project["optional-dependencies"][extra]
    build = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    requirements = [Requirement(line) for line in lines + build]
    return [r for r in requirements if canonicalize_name(r.name) != canonicalize_name(project["name"])]


def test_every_declared_dependency_is_locked_within_its_range():
    locked = _locked()
    problems = []
    for requirement in _declared():
        version = locked.get(canonicalize_name(requirement.name))
        if version is None:
            problems.append(f"{requirement.name} is not in requirements.lock")
        elif not requirement.specifier.contains(version, prereleases=True):
            problems.append(f"{requirement.name}=={version} is outside {requirement.specifier}")
    assert problems == [], "run ./scripts/lock.sh: " + "; ".join(problems)


def test_every_locked_package_has_hashes():
    text = (ROOT / "requirements.lock").read_text()
    entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
    assert len(entries) == len(_locked()) > 50
    assert all("--hash=sha256:" in entry for entry in entries)


def test_the_set_up_installs_a_locked_pip_that_keeps_extras_to_their_locked_versions():
    """The pip a Python 3.11 venv starts with (23.2) resolves `fonttools[woff]` (weasyprint's
    requirement) to the newest fonttools, not the locked one, and `--require-hashes` then refuses
    the whole install: the set-up installs the lock's own pip (25.1 or newer) first."""
    entry = subprocess.run(
        ["bash", "-c", 'source scripts/_setup.sh && locked_pip'], cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout
    lines = entry.splitlines()
    assert PIN.match(lines[0]) and lines[0].startswith("pip=="), entry
    version = Version(PIN.match(lines[0]).group(2))
    assert version >= Version("25.1")
    hashes = [line for line in lines[1:] if re.fullmatch(r" +--hash=sha256:[0-9a-f]{64}( \\)?", line)]
    assert hashes and len(hashes) == len(lines) - 1, entry
    assert _locked()["pip"] == str(version)
