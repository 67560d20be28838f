"""The layering rules of ARCHITECTURE.md.

The import rules are import-linter contracts ([tool.importlinter] in pyproject.toml, run by
./scripts/test.sh as `lint-imports`). The tests here prove that each contract holds on the
source and breaks on a violating import, and check the one rule import-linter cannot express:
the domain does not read the wall clock.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
CONTRACT_NAMES = {
    "domain-knows-no-web": "portal.domain imports no Flask",
    "only-the-adapter-imports-stripe": "Only portal.domain.gateway.stripe_adapter imports stripe",
    "areas-use-public-names": "Areas of portal.domain import each other's public names only",
    "devserver-stays-out": "portal and admin do not import devserver",
}

# One violating module per contract (and a second for the domain rule: the web glue). Each
# lands in a copy of the source tree; `lint-imports` on the copy must name each of them.
VIOLATIONS = {
    "portal/domain/ledger/uses_flask.py": ("import flask\n", "domain-knows-no-web",
                                           "portal.domain.ledger.uses_flask -> flask"),
    "portal/domain/account/uses_web.py": ("from portal.web import context\n", "domain-knows-no-web",
                                          "portal.domain.account.uses_web -> portal.web"),
    "portal/domain/payments/uses_stripe.py": ("import stripe\n", "only-the-adapter-imports-stripe",
                                              "portal.domain.payments.uses_stripe -> stripe"),
    "admin/uses_stripe.py": ("from stripe import StripeClient\n", "only-the-adapter-imports-stripe",
                             "admin.uses_stripe -> stripe"),
    "portal/domain/ledger/reaches_in.py": (
        "from portal.domain.payments.service import (\n    apply_payment,\n    _private_helper,\n)\n",
        "areas-use-public-names",
        "portal.domain.ledger.reaches_in (line 1) imports portal.domain.payments.service._private_helper"),
    "portal/domain/access/reaches_module.py": (
        "from ..notifications import _outbox_internals\n", "areas-use-public-names",
        "portal.domain.access.reaches_module (line 1) imports portal.domain.notifications._outbox_internals"),
    "portal/routes/uses_devserver.py": ("import devserver.ports\n", "devserver-stays-out",
                                        "portal.routes.uses_devserver -> devserver.ports"),
}


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=cwd, capture_output=True, text=True,
                          timeout=120, check=False)


def _copy_source_tree(target: Path) -> Path:
    for package in ("portal", "admin", "devserver"):
        shutil.copytree(ROOT / package, target / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "tests", target / "tests", ignore=shutil.ignore_patterns("__pycache__", "*.py[co]"))
    shutil.copy(ROOT / "pyproject.toml", target / "pyproject.toml")
    return target


def _broken_sections(report: str) -> dict[str, str]:
    """Each broken contract's part of the report, by contract id."""
    sections: dict[str, str] = {}
    for contract_id, name in CONTRACT_NAMES.items():
        start = report.rfind(name)
        assert start >= 0, f"{contract_id} is not in the report:\n{report}"
        following = [report.find(other, start + 1) for other in CONTRACT_NAMES.values()]
        end = min([position for position in following if position > start] or [len(report)])
        sections[contract_id] = report[start:end]
    return sections


def test_the_import_contracts_hold_on_the_source():
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 kept, 0 broken" in result.stdout


def test_each_import_contract_breaks_on_a_violating_import(tmp_path):
    tree = _copy_source_tree(tmp_path)
    clean = _lint_imports(tree)
    assert clean.returncode == 0, clean.stdout + clean.stderr  # the copy alone breaks nothing

    for relative, (source, _, _) in VIOLATIONS.items():
        (tree / relative).write_text(source)
    result = _lint_imports(tree)

    assert result.returncode != 0
    assert "0 kept, 4 broken" in result.stdout, result.stdout
    # The broken contracts are listed after the summary, each with what broke it.
    report = result.stdout[result.stdout.index("Broken contracts"):]
    sections = _broken_sections(report)
    for relative, (_, contract_id, expected) in VIOLATIONS.items():
        assert expected in " ".join(sections[contract_id].split()), f"{relative} not reported under {contract_id}"


def test_the_public_names_contract_allows_private_names_within_an_area_and_dunders(tmp_path):
    tree = _copy_source_tree(tmp_path)
    (tree / "portal/domain/payments/own_area.py").write_text("from portal.domain.payments.service import _x\n")
    (tree / "portal/domain/ledger/dunder.py").write_text("from portal.domain.payments import __doc__\n")
    result = _lint_imports(tree)
    assert result.returncode == 0, result.stdout


def test_seed_demo_says_what_is_missing_when_devserver_is_not_importable(app, monkeypatch):
    # As in an installed wheel, which does not carry devserver/.
    monkeypatch.setitem(sys.modules, "devserver", None)
    monkeypatch.setitem(sys.modules, "devserver.demo_data", None)

    result = app.test_cli_runner().invoke(args=["seed-demo"])

    assert result.exit_code == 1
    assert "seed-demo needs the demo data in devserver/" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("module", ["portal.app", "portal.cli.demo"])
def test_the_portal_imports_without_devserver(module):
    """The command imports the demo data only when it runs: the app loads without it."""
    code = (
        "import sys\n"
        "class Refuse:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'devserver' or name.startswith('devserver.'):\n"
        "            raise ModuleNotFoundError(name, name=name)\n"
        "sys.meta_path.insert(0, Refuse())\n"
        f"import {module}\n"
        "print('imported')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "imported"


def _python_files(*folders: str) -> list[Path]:
    files = [p for folder in folders for p in (ROOT / folder).rglob("*.py")]
    assert files, f"no python files under {folders}"
    return files


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
