"""Balances come from the entries; money in flight is reserved; status follows both."""

from __future__ import annotations

from datetime import timedelta

from portal.domain.ledger.queries import standings_for
from portal.domain.ledger.models import InvoiceEntry
from portal.domain.payments.models import Payment, PaymentAllocation
from portal.domain.payments.service import next_payment_reference
from tests.support.factories import make_customer, make_invoice


def _payment(db, clock, customer, invoice, amount, status):
    payment = Payment(
        customer_id=customer.id, currency=invoice.currency, amount_minor=amount, status=status,
        request_key=f"rk-{status}-{amount}", idempotency_key=f"ik-{status}-{amount}-{invoice.id}",
        created_at=clock.now(), updated_at=clock.now(), reference=next_payment_reference(db, clock.now().year),
    )
    db.add(payment)
    db.flush()
    db.add(PaymentAllocation(payment_id=payment.id, invoice_id=invoice.id, amount_minor=amount))
    db.commit()
    return payment


def test_balance_is_the_sum_of_entries(db, clock):
    customer = make_customer(db, clock)
    invoice = make_invoice(db, clock, customer, total_minor=10_000)
    db.add(InvoiceEntry(invoice_id=invoice.id, kind="credit_note", amount_minor=-2_500, created_at=clock.now()))
    db.commit()
    standing = standings_for(db, [invoice.id], clock.now().date())[invoice.id]
    assert standing.balance.minor == 7_500
    assert standing.is_partly_paid
    assert standing.status == "open"


def test_in_flight_money_is_not_payable_again(db, clock):
    customer = make_customer(db, clock)
    invoice = make_invoice(db, clock, customer, total_minor=10_000)
    _payment(db, clock, customer, invoice, 4_000, "processing")
    _payment(db, clock, customer, invoice, 1_000, "failed")
    standing = standings_for(db, [invoice.id], clock.now().date())[invoice.id]
    assert (standing.balance.minor, standing.in_flight.minor, standing.payable.minor) == (10_000, 4_000, 6_000)


def test_fully_in_flight_invoice_shows_processing_then_paid(db, clock):
    customer = make_customer(db, clock)
    invoice = make_invoice(db, clock, customer, total_minor=3_000)
    payment = _payment(db, clock, customer, invoice, 3_000, "processing")
    today = clock.now().date()
    assert standings_for(db, [invoice.id], today)[invoice.id].status == "processing"
    payment.status = "succeeded"
    db.add(InvoiceEntry(invoice_id=invoice.id, kind="payment", amount_minor=-3_000, payment_id=payment.id,
                        created_at=clock.now()))
    db.commit()
    standing = standings_for(db, [invoice.id], today)[invoice.id]
    assert standing.status == "paid"
    assert standing.payable.minor == 0


def test_overdue_counts_days_past_due(db, clock):
    customer = make_customer(db, clock)
    today = clock.now().date()
    invoice = make_invoice(db, clock, customer, issue_date=today - timedelta(days=50), due_date=today - timedelta(days=20))
    standing = standings_for(db, [invoice.id], today)[invoice.id]
    assert standing.is_overdue and standing.days_overdue == 20 and standing.status == "overdue"
