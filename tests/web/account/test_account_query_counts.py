"""Each account page runs a fixed number of SQL statements, however many invoices there are.

The data has every shape a row can take (several lines, partly paid, paid, credited, ACH in
flight), so a template that lazily loads something per row would show up as a larger count at
60 invoices than at 5.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event

from tests.support.factories import (
    add_invoice_entry, make_allocated_payment, make_contact, make_customer, make_invoice, sign_in,
)


@contextmanager
def counted_statements(engine):
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def seed_account(db, clock, count: int):
    """A customer with `count` invoices in a rotating mix of states and currencies."""
    customer = make_customer(db, clock)
    contact = make_contact(db, clock, customer)
    today = clock.now().date()
    invoices = []
    for n in range(count):
        invoice = make_invoice(
            db, clock, customer, currency=("USD", "EUR", "JPY")[n % 3], po_number=f"PO-{n}",
            issue_date=today - timedelta(days=40 + n), due_date=today - timedelta(days=10 + n - 20),
            lines=[("Item A", 2, 1_500), ("Item B", 1, 2_000 + n)],
        )
        shape = n % 5
        if shape == 1:
            add_invoice_entry(db, clock, invoice, "payment", -1_000, reference=f"ch_{n}")
        elif shape == 2:
            add_invoice_entry(db, clock, invoice, "payment", -invoice.total_minor)
        elif shape == 3:
            make_allocated_payment(db, clock, customer, [(invoice, invoice.total_minor)], method="us_bank_account")
        elif shape == 4:
            add_invoice_entry(db, clock, invoice, "credit_note", -500, reference=f"CN-{n}")
        invoices.append(invoice)
    return contact, invoices


def statements_for(app, engine, db, clock, count: int) -> dict[str, int]:
    contact, invoices = seed_account(db, clock, count)
    # An invoice with history, lines and an ACH payment in flight.
    busy = invoices[3]
    client = app.test_client()
    sign_in(client, contact, clock)
    counts = {}
    for name, path in [
        ("overview", "/account"),
        ("list", "/invoices?status=all&per_page=100"),
        ("list_sorted_searched", "/invoices?status=open&sort=balance&dir=desc&q=PO-&per_page=100"),
        ("invoice", f"/invoices/{busy.public_id}"),
    ]:
        with counted_statements(engine) as statements:
            response = client.get(path)
        assert response.status_code == 200, path
        counts[name] = len(statements)
    return counts


@pytest.fixture
def measure(app, engine, db, clock):
    return lambda count: statements_for(app, engine, db, clock, count)


def test_page_query_counts_do_not_grow_with_the_number_of_invoices(measure):
    few = measure(5)
    many = measure(60)  # another customer in the same database, twelve times the invoices

    assert few == many
    # Sign-in check (1) plus the page's own queries; SQLite adds its BEGIN statement.
    assert max(many.values()) <= 8, many



def test_an_invoice_page_reads_po_history_and_payments_in_flight_only_when_there_are_some(app, engine, db, clock):
    contact, invoices = seed_account(db, clock, 5)
    quiet, in_flight = invoices[1], invoices[3]  # partly paid by card; an ACH debit still processing
    client = app.test_client()
    sign_in(client, contact, clock)
    read = {}
    for name, invoice in (("quiet", quiet), ("in_flight", in_flight)):
        with counted_statements(engine) as statements:
            response = client.get(f"/invoices/{invoice.public_id}")
        assert response.status_code == 200
        read[name] = statements
    history_of_po = [s for s in read["quiet"] + read["in_flight"] if s.lstrip().startswith("SELECT invoice_reissues.")]
    assert history_of_po == []  # neither was given a PO after issue
    assert len(read["in_flight"]) == len(read["quiet"]) + 1
    assert any("payment_allocations" in s and s.lstrip().startswith("SELECT payments.public_id") for s in read["in_flight"])
    # The sign-in check, the invoice, then its lines and entries in one statement (SQLite adds BEGIN).
    sqlite = engine.dialect.name == "sqlite"
    assert len(read["quiet"]) == 3 + sqlite, read["quiet"]
    [both] = [s for s in read["quiet"] if "invoice_lines" in s or "invoice_entries" in s]
    assert "invoice_lines" in both and "invoice_entries" in both and "UNION ALL" in both
