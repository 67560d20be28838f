"""An import-linter contract for what import-linter's own contracts cannot see: names.

`public_names`: the areas of a container package (`portal.domain.<area>`) import each other
only through public names. Within an area anything goes; across areas an import of a name or
a module that starts with an underscore (`from portal.domain.payments.service import _lock`,
`import portal.domain.ledger._sums`) breaks the contract. Dunder names (`__version__`) are
public. Configured in pyproject.toml ([tool.importlinter]); run by `lint-imports`.
"""

from __future__ import annotations

import ast
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from grimp import ImportGraph
from importlinter.application import output
from importlinter.domain import fields
from importlinter.domain.contract import Contract, ContractCheck


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


@dataclass(frozen=True)
class PrivateImport:
    importer: str
    line_number: int
    imported: str

    def describe(self) -> str:
        return f"{self.importer} (line {self.line_number}) imports {self.imported}"


class PublicNamesContract(Contract):
    container = fields.ModuleField()

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        container = self.container.name
        found: list[PrivateImport] = []
        modules = sorted(graph.find_descendants(container))
        output.verbose_print(verbose, f"Reading the imports of {len(modules)} modules under {container}")
        for module in modules:
            found.extend(private_imports_across_areas(module, module_file(module), container))
        return ContractCheck(kept=not found, metadata={"found": found})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for item in check.metadata["found"]:
            output.print_error(f"- {item.describe()}", bold=False)
        output.new_line()
        output.print("Import the other area's public function, or make the name public there.")


def module_file(module: str) -> Path:
    """The source file of `module`, found without importing anything but the top package's spec."""
    top, *rest = module.split(".")
    spec = importlib.util.find_spec(top)
    if spec is None or spec.origin is None:
        raise ValueError(f"cannot find the package {top}")
    base = Path(spec.origin).parent.joinpath(*rest)
    package_init = base / "__init__.py"
    return package_init if package_init.exists() else base.with_suffix(".py")


def area_of(module: str, container: str) -> str | None:
    if not module.startswith(container + "."):
        return None
    return module[len(container) + 1:].split(".")[0]


def private_imports_across_areas(module: str, path: Path, container: str) -> list[PrivateImport]:
    own_area = area_of(module, container)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [(alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = _absolute(node, package)
            targets = [(target, alias.name) for alias in node.names]
        else:
            continue
        for target, name in targets:
            area = area_of(target, container)
            if area is None or area == own_area:
                continue
            segments = target[len(container) + 1:].split(".")
            if any(is_private(segment) for segment in segments) or (name is not None and is_private(name)):
                imported = target if name is None else f"{target}.{name}"
                found.append(PrivateImport(module, node.lineno, imported))
    return found


def _absolute(node: ast.ImportFrom, package: str) -> str:
    if node.level == 0:
        return node.module or ""
    parts = package.split(".")
    base = parts[: len(parts) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))
