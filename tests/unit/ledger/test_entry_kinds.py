"""Entry kinds are named once: the CHECK, the labels and the signs all come from EntryKind."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from portal.domain.ledger.models import InvoiceEntry
from portal.domain.ledger.states import ENTRY_LABELS, ENTRY_SIGNS, EntryKind, kind_sign_check_sql

MIGRATIONS = Path(__file__).resolve().parents[3] / "migrations/versions"


def _check_written_by(source: str) -> str | None:
    """The kind_sign text a migration writes: 0001's `CheckConstraint` argument, or the `AFTER`
    text of a migration that replaces the constraint (0029)."""
    tree = ast.parse(source)
    for node in tree.body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", "") for t in node.targets] == ["AFTER"]:
            return ast.literal_eval(node.value)
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "CheckConstraint"
                and "kind_sign" in ast.unparse(node)):
            return node.args[0].value
    return None


def _check_in_newest_migration() -> str:
    written = [text for path in sorted(MIGRATIONS.glob("[0-9][0-9][0-9][0-9]_*.py"))
               if "ck_invoice_entries_kind_sign" in (source := path.read_text())
               and (text := _check_written_by(source)) is not None]
    assert len(written) >= 2, "0001 creates the check and 0029 replaces it"
    return written[-1]


def test_the_models_check_is_the_one_the_newest_migration_wrote():
    constraint = next(c for c in InvoiceEntry.__table__.constraints if str(c.name).endswith("kind_sign"))
    assert str(constraint.sqltext) == kind_sign_check_sql() == _check_in_newest_migration()


def test_every_kind_has_a_sign_and_a_label():
    assert set(ENTRY_SIGNS) == set(EntryKind) == set(ENTRY_LABELS)
    assert all(EntryKind(kind).sign in (+1, -1) for kind in EntryKind)


@pytest.mark.parametrize("kind", list(EntryKind))
@pytest.mark.parametrize("amount", [-500, -1, 0, 1, 500])
def test_a_kind_accepts_only_amounts_of_its_sign(kind, amount):
    assert kind.accepts(amount) == (amount != 0 and (amount > 0) == (kind.sign > 0))
