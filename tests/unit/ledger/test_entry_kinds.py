"""Entry kinds are named once: the CHECK, the labels and the signs all come from EntryKind."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from portal.domain.ledger.models import InvoiceEntry
from portal.domain.ledger.states import ENTRY_LABELS, ENTRY_SIGNS, EntryKind, kind_sign_check_sql

INITIAL_MIGRATION = Path(__file__).resolve().parents[3] / "migrations/versions/0001_initial_schema.py"


def _check_in_initial_migration() -> str:
    """The text 0001 gave `ck_invoice_entries_kind_sign`, read from the migration's source."""
    for node in ast.walk(ast.parse(INITIAL_MIGRATION.read_text())):
        if (isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "CheckConstraint"
                and "kind_sign" in ast.unparse(node)):
            return node.args[0].value
    raise AssertionError("0001 has no kind_sign check")


def test_the_models_check_is_the_one_migration_0001_created():
    constraint = next(c for c in InvoiceEntry.__table__.constraints if str(c.name).endswith("kind_sign"))
    assert str(constraint.sqltext) == kind_sign_check_sql() == _check_in_initial_migration()


def test_every_kind_has_a_sign_and_a_label():
    assert set(ENTRY_SIGNS) == set(EntryKind) == set(ENTRY_LABELS)
    assert all(EntryKind(kind).sign in (+1, -1) for kind in EntryKind)


@pytest.mark.parametrize("kind", list(EntryKind))
@pytest.mark.parametrize("amount", [-500, -1, 0, 1, 500])
def test_a_kind_accepts_only_amounts_of_its_sign(kind, amount):
    assert kind.accepts(amount) == (amount != 0 and (amount > 0) == (kind.sign > 0))
