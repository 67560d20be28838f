"""The triggers of migration 0002: each change to entries, allocations or a payment's status
moves the invoice's maintained figures in the same transaction, and the ORM cannot write them."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DBAPIError

from portal import migrate
from portal.domain.invoicing.models import Invoice
from portal.domain.payments.models import Payment, PaymentAllocation
from portal.domain.ledger.jobs import check_ledger
from tests.support.factories import add_invoice_entry, make_allocated_payment, make_customer, make_invoice


def _figures(db, invoice) -> tuple[int, int]:
    return tuple(db.execute(select(Invoice.balance_minor, Invoice.in_flight_minor)
                            .where(Invoice.id == invoice.id)).one())


def test_entries_move_the_balance(db, clock):
    invoice = make_invoice(db, clock, make_customer(db, clock), total_minor=10_000)
    assert _figures(db, invoice) == (10_000, 0)

    add_invoice_entry(db, clock, invoice, "credit_note", -2_500)
    add_invoice_entry(db, clock, invoice, "refund", 700)

    assert _figures(db, invoice) == (8_200, 0)


@pytest.mark.parametrize(("status", "in_flight"), [
    ("new", 3_000), ("requires_action", 3_000), ("processing", 3_000),
    ("succeeded", 0), ("failed", 0), ("canceled", 0),
])
def test_an_allocation_counts_only_while_its_payment_is_in_flight(db, clock, status, in_flight):
    customer = make_customer(db, clock)
    invoice = make_invoice(db, clock, customer, total_minor=10_000)

    make_allocated_payment(db, clock, customer, [(invoice, 3_000)], status=status)

    assert _figures(db, invoice) == (10_000, in_flight)


def test_leaving_and_entering_flight_moves_every_allocated_invoice(db, clock):
    customer = make_customer(db, clock)
    first = make_invoice(db, clock, customer, total_minor=10_000)
    second = make_invoice(db, clock, customer, total_minor=5_000)
    payment = make_allocated_payment(db, clock, customer, [(first, 4_000), (second, 5_000)], status="new")
    assert (_figures(db, first), _figures(db, second)) == ((10_000, 4_000), (5_000, 5_000))

    for status, expected in [("requires_action", (4_000, 5_000)), ("failed", (0, 0)),
                             ("processing", (4_000, 5_000)), ("canceled", (0, 0))]:
        db.execute(update(Payment).where(Payment.id == payment.id).values(status=status))
        db.commit()
        assert (_figures(db, first)[1], _figures(db, second)[1]) == expected, status


def test_a_rolled_back_change_leaves_the_figures_as_they_were(db, clock):
    customer = make_customer(db, clock)
    invoice = make_invoice(db, clock, customer, total_minor=10_000)
    payment = make_allocated_payment(db, clock, customer, [(invoice, 4_000)], status="processing")
    db.commit()  # what follows is rolled back; the arranged rows stay

    db.execute(update(Payment).where(Payment.id == payment.id).values(status="failed"))
    assert _figures(db, invoice) == (10_000, 0)
    db.rollback()

    assert _figures(db, invoice) == (10_000, 4_000)


@pytest.mark.parametrize("statement", ["update", "delete"])
def test_allocations_are_immutable(db, clock, statement):
    customer = make_customer(db, clock)
    invoice = make_invoice(db, clock, customer, total_minor=10_000)
    make_allocated_payment(db, clock, customer, [(invoice, 4_000)], status="processing")
    db.commit()  # the refused statement rolls back; the arranged rows stay
    where = PaymentAllocation.invoice_id == invoice.id
    change = (update(PaymentAllocation).where(where).values(amount_minor=1) if statement == "update"
              else delete(PaymentAllocation).where(where))

    with pytest.raises(DBAPIError, match="immutable"):
        db.execute(change)
    db.rollback()

    assert db.scalars(select(PaymentAllocation.amount_minor).where(where)).all() == [4_000]
    assert _figures(db, invoice) == (10_000, 4_000)


def test_in_flight_cannot_go_negative(db, clock):
    invoice = make_invoice(db, clock, make_customer(db, clock))

    with pytest.raises(DBAPIError):
        db.execute(text("UPDATE invoices SET in_flight_minor = -1 WHERE id = :id"), {"id": invoice.id})
    db.rollback()


def test_the_orm_refuses_to_write_a_maintained_column(db, clock):
    invoice = make_invoice(db, clock, make_customer(db, clock))

    with pytest.raises(AttributeError, match="maintained by the database"):
        invoice.balance_minor = 0
    with pytest.raises(AttributeError, match="maintained by the database"):
        Invoice(in_flight_minor=5)


def test_upgrading_backfills_the_figures_of_existing_invoices(database_url, engine, db, clock):
    customer = make_customer(db, clock)
    invoice = make_invoice(db, clock, customer, total_minor=10_000)
    add_invoice_entry(db, clock, invoice, "payment", -1_500)
    make_allocated_payment(db, clock, customer, [(invoice, 2_000)], status="processing")
    make_allocated_payment(db, clock, customer, [(invoice, 900)], status="failed")
    db.commit()  # the migrations below run on their own connections
    db.close()
    engine.dispose()

    migrate.downgrade(database_url, "0001")
    with engine.connect() as connection:
        columns = {c["name"] for c in engine.dialect.get_columns(connection, "invoices")}
    assert "balance_minor" not in columns
    migrate.upgrade(database_url)

    with engine.connect() as connection:
        row = connection.execute(select(Invoice.balance_minor, Invoice.in_flight_minor)
                                 .where(Invoice.id == invoice.id)).one()
    assert tuple(row) == (8_500, 2_000)
    assert check_ledger(db).is_consistent
