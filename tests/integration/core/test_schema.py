"""The migrations are the schema: models agree with them, they go down and up again, and the
money history and audit log refuse edits at the database level."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import delete, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from portal import migrate
from portal.domain.core import audit
from portal.domain.core.models import AuditEntry
from portal.domain.core.types import Base
from portal.domain.ledger.models import InvoiceEntry
from tests.support.factories import make_customer, make_invoice


def test_models_and_migrations_agree(engine):
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_upgrade_downgrade_upgrade(database_url, engine, db_kind):
    engine.dispose()
    migrate.downgrade(database_url, "base")
    with engine.connect() as connection:
        remaining = set(engine.dialect.get_table_names(connection)) - {"alembic_version"}
    assert remaining == set()
    migrate.upgrade(database_url)
    with engine.connect() as connection:
        tables = set(engine.dialect.get_table_names(connection))
    assert set(Base.metadata.tables) <= tables


@pytest.mark.parametrize("statement", ["update", "delete"])
def test_invoice_entries_are_append_only(db, clock, statement):
    customer = make_customer(db, clock)
    invoice = make_invoice(db, clock, customer, total_minor=5000)
    db.commit()  # the refusal below rolls the transaction back: keep the arranged invoice
    if statement == "update":
        change = update(InvoiceEntry).where(InvoiceEntry.invoice_id == invoice.id).values(amount_minor=1)
    else:
        change = delete(InvoiceEntry).where(InvoiceEntry.invoice_id == invoice.id)
    with pytest.raises(DBAPIError, match="append-only"):
        db.execute(change)
        db.flush()
    db.rollback()
    amounts = db.scalars(select(InvoiceEntry.amount_minor).where(InvoiceEntry.invoice_id == invoice.id)).all()
    assert amounts == [5000]


def test_audit_rows_cannot_be_edited(db, clock):
    entry = audit.record(db, clock, audit.Actor("staff", "s-1", "10.0.0.1"), "refund.created", "payment", "p-1",
                         before={"balance": 0}, after={"balance": 500})
    db.commit()
    with pytest.raises(DBAPIError, match="append-only"):
        db.execute(update(AuditEntry).where(AuditEntry.id == entry.id).values(action="nothing"))
    db.rollback()
    with pytest.raises(DBAPIError, match="append-only"):
        db.execute(delete(AuditEntry).where(AuditEntry.id == entry.id))
    db.rollback()
    assert db.scalar(select(AuditEntry.action).where(AuditEntry.id == entry.id)) == "refund.created"


def test_entry_signs_are_enforced(db, clock):
    customer = make_customer(db, clock)
    invoice = make_invoice(db, clock, customer, total_minor=5000)
    db.add(InvoiceEntry(invoice_id=invoice.id, kind="payment", amount_minor=+100, created_at=clock.now()))
    with pytest.raises(IntegrityError):
        db.flush()
    db.rollback()


def test_naive_datetimes_are_refused(db, clock):
    customer = make_customer(db, clock)
    invoice = make_invoice(db, clock, customer)
    db.add(InvoiceEntry(invoice_id=invoice.id, kind="credit_note", amount_minor=-100,
                        created_at=clock.now().replace(tzinfo=None)))
    with pytest.raises(Exception, match="naive datetime"):
        db.flush()
    db.rollback()
