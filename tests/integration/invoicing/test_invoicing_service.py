"""The one write path: issue_invoice, issue_credit_note and post_entry refuse bad input with a
message and write nothing; what they accept opens and moves the balance."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal.domain.core.errors import NotFound
from portal.domain.core.money import Money
from portal.domain.invoicing.models import Invoice, InvoiceLine
from portal.domain.invoicing.service import InvoiceRefused, NewLine, issue_credit_note, issue_invoice
from portal.domain.ledger.models import InvoiceEntry
from portal.domain.ledger.service import EntryRefused, post_entry
from tests.support.factories import make_customer, make_invoice


def _issue(db, clock, customer, **changes):
    today = clock.now().date()
    arguments = dict(customer_id=customer.id, number="INV-S-1", currency="usd", issue_date=today,
                     due_date=today + timedelta(days=30), at=clock.now(),
                     lines=[NewLine("Gloves", Decimal("2.5"), 1_001), NewLine("Freight", 1, 4_500)])
    arguments.update(changes)
    return issue_invoice(db, **arguments)


def _nothing_written(db) -> bool:
    return all(db.scalar(select(func.count()).select_from(model)) == 0
               for model in (Invoice, InvoiceLine, InvoiceEntry))


def test_issuing_stores_invoice_lines_and_the_issued_entry(db, clock):
    invoice = _issue(db, clock, make_customer(db, clock), total_minor=7_003)
    db.commit()

    assert invoice.currency == "USD" and invoice.total_minor == 2_503 + 4_500  # 2.5 x 10.01 rounds up
    assert [line.amount_minor for line in invoice.lines] == [2_503, 4_500]
    assert db.execute(select(InvoiceEntry.kind, InvoiceEntry.amount_minor, InvoiceEntry.reference)).all() == [
        ("issued", 7_003, "INV-S-1")]
    assert db.scalar(select(Invoice.balance_minor).where(Invoice.id == invoice.id)) == 7_003


@pytest.mark.parametrize(("changes", "message"), [
    ({"currency": "XXX"}, "Unsupported currency"),
    ({"due_date": None}, "before it was issued"),
    ({"total_minor": 7_000}, "lines add up to 7003"),
    ({"lines": []}, "has no lines"),
    ({"lines": [NewLine("Refund line", 1, -100)]}, "no positive total"),
    ({"lines": [NewLine("", 1, 100)]}, "needs a description"),
    ({"lines": [NewLine("Nothing", 0, 100)]}, "no positive quantity"),
    ({"number": " "}, "invoice number has 1 to 40"),
])
def test_bad_invoices_are_refused_and_nothing_is_written(db, clock, changes, message):
    customer = make_customer(db, clock)
    if changes.get("due_date", 1) is None:
        changes["due_date"] = clock.now().date() - timedelta(days=1)

    with pytest.raises(InvoiceRefused, match=message):
        _issue(db, clock, customer, **changes)
    assert _nothing_written(db)


def test_a_number_is_issued_once_and_only_to_a_known_customer(db, clock):
    customer = make_customer(db, clock)
    _issue(db, clock, customer)
    db.commit()

    with pytest.raises(InvoiceRefused, match="INV-S-1 already exists"):
        _issue(db, clock, customer)
    with pytest.raises(NotFound):
        _issue(db, clock, customer, customer_id=customer.id + 1000, number="INV-S-2")
    assert db.scalar(select(func.count()).select_from(Invoice)) == 1


def test_a_credit_note_reduces_the_balance_but_never_below_zero(db, clock):
    invoice = make_invoice(db, clock, make_customer(db, clock), total_minor=10_000)

    issue_credit_note(db, invoice_id=invoice.id, amount=Money(6_000, "USD"), reference="CN-1", at=clock.now())
    db.commit()
    with pytest.raises(InvoiceRefused, match=r"more than the \$40.00 still open"):
        issue_credit_note(db, invoice_id=invoice.id, amount=Money(4_001, "USD"), at=clock.now())
    with pytest.raises(InvoiceRefused, match="in USD"):
        issue_credit_note(db, invoice_id=invoice.id, amount=Money(100, "EUR"), at=clock.now())
    with pytest.raises(InvoiceRefused, match="positive"):
        issue_credit_note(db, invoice_id=invoice.id, amount=Money(0, "USD"), at=clock.now())
    issue_credit_note(db, invoice_id=invoice.id, amount=Money(4_000, "USD"), at=clock.now())
    db.commit()

    assert db.scalar(select(Invoice.balance_minor).where(Invoice.id == invoice.id)) == 0
    assert db.scalars(select(InvoiceEntry.amount_minor).where(InvoiceEntry.kind == "credit_note")
                      .order_by(InvoiceEntry.id)).all() == [-6_000, -4_000]


@pytest.mark.parametrize(("kind", "amount", "message"), [
    ("payment", 100, "payment received entry must be negative"),
    ("refund", -100, "refund entry must be positive"),
    ("issued", 0, "must be positive"),
    ("gift", -100, "Unknown ledger entry kind"),
    ("credit_note", Decimal("-1.5"), "whole number"),
])
def test_post_entry_refuses_a_wrong_kind_or_sign(db, clock, kind, amount, message):
    invoice = make_invoice(db, clock, make_customer(db, clock), total_minor=10_000)

    with pytest.raises(EntryRefused, match=message):
        post_entry(db, invoice_id=invoice.id, kind=kind, amount_minor=amount, at=clock.now())
    assert db.scalars(select(InvoiceEntry.kind)).all() == ["issued"]
