"""Migration 0029 on a database with a ledger in it: the entries' CHECK gains `refund_reversal`,
and down to 0028 and up again keeps every entry, every balance and every trigger of
`invoice_entries` (SQLite rebuilds the table in batch mode, which drops its triggers)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, inspect, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from portal import migrate
from portal.domain.invoicing.models import Invoice
from portal.domain.ledger.jobs import check_ledger
from portal.domain.ledger.models import InvoiceEntry
from tests.support.factories import add_invoice_entry, make_customer, make_invoice


def _triggers(engine) -> set[str]:
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            return set(connection.scalars(text(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'invoice_entries'")))
        return set(connection.scalars(text(
            "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgrelid = 'invoice_entries'::regclass")))


def _indexes(engine) -> set[str]:
    return {index["name"] for index in inspect(engine).get_indexes("invoice_entries")}


def _state(engine) -> tuple:
    with engine.connect() as connection:
        entries = connection.execute(select(InvoiceEntry.id, InvoiceEntry.kind, InvoiceEntry.amount_minor)
                                     .order_by(InvoiceEntry.id)).all()
        balances = connection.execute(select(Invoice.id, Invoice.balance_minor).order_by(Invoice.id)).all()
    return entries, balances, _triggers(engine), _indexes(engine)


def _insert_reversal(connection, invoice_id: int, amount: int = -700) -> None:
    connection.execute(text(
        "INSERT INTO invoice_entries (invoice_id, kind, amount_minor, reference, created_at) "
        "VALUES (:invoice, 'refund_reversal', :amount, 're_1 failed', '2026-12-03')"),
        {"invoice": invoice_id, "amount": amount})


@pytest.fixture
def ledger(db, clock):
    invoice = make_invoice(db, clock, make_customer(db, clock), total_minor=10_000)
    add_invoice_entry(db, clock, invoice, "payment", -4_000)
    add_invoice_entry(db, clock, invoice, "refund", 700)
    db.commit()
    return invoice


def test_down_and_up_again_keeps_the_entries_balances_and_triggers(database_url, engine, db, ledger):
    db.close()
    before = _state(engine)
    assert before[1] == [(ledger.id, 6_700)]
    append_only = ({"invoice_entries_no_update", "invoice_entries_no_delete"} if engine.dialect.name == "sqlite"
                   else {"invoice_entries_append_only"})
    assert before[2] == append_only | {"invoice_entries_maintain_balance"}

    engine.dispose()
    migrate.downgrade(database_url, "0028")
    engine.dispose()
    assert _state(engine) == before
    with pytest.raises(IntegrityError), engine.begin() as connection:
        _insert_reversal(connection, ledger.id)  # 0028's CHECK has no refund_reversal

    migrate.upgrade(database_url)
    engine.dispose()
    assert _state(engine) == before
    with engine.begin() as connection:
        _insert_reversal(connection, ledger.id)
    with engine.connect() as connection:  # the balance trigger came back with the table
        assert connection.scalar(select(Invoice.balance_minor).where(Invoice.id == ledger.id)) == 6_000
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
        connection.execute(text("UPDATE invoice_entries SET amount_minor = -1 WHERE kind = 'refund_reversal'"))
    assert check_ledger(db).is_consistent


@pytest.mark.parametrize("amount", [700, 0])
def test_a_refund_reversal_must_lower_the_balance(engine, db, ledger, amount):
    db.close()
    with pytest.raises(IntegrityError), engine.begin() as connection:
        _insert_reversal(connection, ledger.id, amount)


def test_going_down_while_a_refund_reversal_exists_fails_and_changes_nothing(database_url, engine, db, ledger):
    db.close()
    with engine.begin() as connection:
        _insert_reversal(connection, ledger.id)
    before = _state(engine)
    engine.dispose()

    with pytest.raises(IntegrityError):
        migrate.downgrade(database_url, "0028")
    engine.dispose()

    assert _state(engine) == before
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(InvoiceEntry)) == 4


def _other_backends(engine) -> int:
    with engine.connect() as connection:
        return connection.scalar(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"))


@pytest.mark.postgres_only
def test_a_failed_migration_closes_its_connection(database_url, engine, db, ledger):
    """Not left open for the garbage collector to find later (a ResourceWarning in whatever
    runs then)."""
    db.close()
    with engine.begin() as connection:
        _insert_reversal(connection, ledger.id)
    before = _other_backends(engine)
    with pytest.raises(IntegrityError):
        migrate.downgrade(database_url, "0028")
    assert _other_backends(engine) == before
