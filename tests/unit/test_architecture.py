"""The layering rules of ARCHITECTURE.md, checked on the source itself."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FLASK_MODULES = {"flask", "flask_login", "flask_wtf", "werkzeug"}


def _imported_top_level_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _python_files(*folders: str) -> list[Path]:
    files = [p for folder in folders for p in (ROOT / folder).rglob("*.py")]
    assert files, f"no python files under {folders}"
    return files


def test_the_domain_never_imports_flask():
    offenders = {
        str(path.relative_to(ROOT)): sorted(_imported_top_level_modules(path) & FLASK_MODULES)
        for path in _python_files("portal/domain")
    }
    offenders = {path: mods for path, mods in offenders.items() if mods}
    assert offenders == {}


def test_only_the_gateway_adapter_imports_stripe():
    importers = sorted(
        str(path.relative_to(ROOT))
        for path in _python_files("portal", "admin")
        if "stripe" in _imported_top_level_modules(path)
    )
    assert importers == ["portal/domain/gateway/stripe_adapter.py"]


def test_the_domain_does_not_read_the_wall_clock():
    """Time comes from the injected clock; only clock.py may call datetime.now()."""
    offenders = []
    for path in _python_files("portal/domain"):
        if path.name == "clock.py":
            continue
        source = path.read_text()
        for needle in ("datetime.now(", "datetime.utcnow(", "date.today(", "time.time("):
            if needle in source:
                offenders.append(f"{path.relative_to(ROOT)}: {needle}")
    assert offenders == []
